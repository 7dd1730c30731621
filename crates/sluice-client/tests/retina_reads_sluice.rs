//! retina, an independent Rust RTSP client, reads Sluice's demo path.

mod common;

use std::time::Duration;

use futures::StreamExt as _;
use retina::client::{
    PlayOptions, SessionGroup, SessionOptions, SetupOptions, TcpTransportOptions, Transport,
};
use retina::codec::CodecItem;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retina_receives_fifty_video_frames() {
    let server = common::peers::Sluice::start().await;
    let url = url::Url::parse(&server.url("demo")).unwrap();
    common::bounded(60, async {
        let options = SessionOptions::default()
            .user_agent("retina-interop-test".to_owned())
            .session_group(std::sync::Arc::new(SessionGroup::default()));
        let mut session = retina::client::Session::describe(url.clone(), options)
            .await
            .unwrap();
        let video = session
            .streams()
            .iter()
            .position(|s| s.media() == "video")
            .expect("a video stream");
        assert_eq!(session.streams()[video].encoding_name(), "h264");
        session
            .setup(
                video,
                SetupOptions::default().transport(Transport::Tcp(TcpTransportOptions::default())),
            )
            .await
            .unwrap();
        let mut demuxed = session
            .play(PlayOptions::default())
            .await
            .unwrap()
            .demuxed()
            .unwrap();
        let mut frames = 0;
        let mut keyframes = 0;
        while frames < 50 {
            let item = tokio::time::timeout(Duration::from_secs(10), demuxed.next())
                .await
                .expect("a frame within 10 s")
                .expect("the stream goes on")
                .unwrap();
            if let CodecItem::VideoFrame(frame) = item {
                frames += 1;
                keyframes += usize::from(frame.is_random_access_point());
                assert!(!frame.data().is_empty());
            }
        }
        assert!(keyframes >= 1, "{frames} frames without a keyframe");
    })
    .await;
}
