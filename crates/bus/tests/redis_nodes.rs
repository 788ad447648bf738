//! Behaviour specific to the Redis backend: dead nodes, lost keys and messages, reconnection,
//! malformed data and configuration.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, next_body, next_event, WAIT};
use heliograph_bus::{Bus, BusError, NodeId, RedisBus, SocketEvent};
use heliograph_types::{Aci, DeviceId};
use redis::AsyncCommands;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

fn dev(n: u32) -> DeviceId {
    DeviceId::new(n).unwrap()
}

fn presence_key(ns: &str, aci: Aci, device: DeviceId) -> String {
    format!("{ns}:presence:{{{aci}}}:{device}")
}

#[tokio::test]
async fn dead_node_presence_expires_and_live_presence_does_not() {
    let Some((a, b, _ns, _url)) = common::two_nodes().await else {
        return;
    };
    let aci = Aci::random();
    let address = uuid::Uuid::new_v4().to_string();
    let _socket = a.register_socket(aci, dev(1)).await.unwrap();
    let mut prov = a.register_provisioning(&address).await.unwrap();
    // Alive for twice the TTL: the heartbeat keeps the keys.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(b.is_present(aci, dev(1)).await);
    assert!(b.send_provisioning(&address, vec![1]).await.unwrap());
    assert_eq!(next_body(&mut prov).await, Some(vec![1]));
    // The node dies without unregistering anything.
    drop(a);
    eventually(WAIT, "dead node's presence expires", || async {
        !b.is_present(aci, dev(1)).await
    })
    .await;
    assert!(!b.send_provisioning(&address, vec![1]).await.unwrap());
    assert!(!b.deliver_ephemeral(aci, dev(1), vec![1]).await);
}

#[tokio::test]
async fn a_device_can_reconnect_to_another_node_after_its_node_died() {
    let Some((a, b, _ns, _url)) = common::two_nodes().await else {
        return;
    };
    let aci = Aci::random();
    let _socket = a.register_socket(aci, dev(1)).await.unwrap();
    drop(a);
    // The dead node's key is still there: registering over it must still work.
    let mut socket = b.register_socket(aci, dev(1)).await.unwrap();
    assert!(b.is_present(aci, dev(1)).await);
    b.notify_new_messages(aci, dev(1)).await;
    assert_eq!(
        next_event(&mut socket.events).await,
        Some(SocketEvent::NewMessages)
    );
    // And it outlives the dead node's TTL.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(b.is_present(aci, dev(1)).await);
    assert!(socket.events.try_recv().is_err());
}

#[tokio::test]
async fn shutdown_removes_presence_at_once() {
    let Some((a, b, _ns, _url)) = common::two_nodes().await else {
        return;
    };
    let aci = Aci::random();
    let _socket = a.register_socket(aci, dev(1)).await.unwrap();
    let _prov = a.register_provisioning("shutdown-address").await.unwrap();
    assert!(b.is_present(aci, dev(1)).await);
    a.shutdown().await;
    assert!(!b.is_present(aci, dev(1)).await);
    assert!(!b
        .send_provisioning("shutdown-address", vec![1])
        .await
        .unwrap());
}

#[tokio::test]
async fn lost_displacement_is_healed_by_the_heartbeat() {
    let Some((a, _b, ns, url)) = common::two_nodes().await else {
        return;
    };
    let aci = Aci::random();
    let mut socket = a.register_socket(aci, dev(1)).await.unwrap();
    // A newer socket on some node, whose displacement message never arrived.
    let newer = format!("{}|{}.1", u64::MAX / 2, NodeId::random());
    let mut raw = common::raw(&url).await;
    let _: () = raw
        .pset_ex(presence_key(&ns, aci, dev(1)), newer, 5000)
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut socket.events).await,
        Some(SocketEvent::displaced())
    );
}

#[tokio::test]
async fn lost_keys_are_recreated_by_the_heartbeat() {
    let Some((a, b, ns, url)) = common::two_nodes().await else {
        return;
    };
    let aci = Aci::random();
    let mut socket = a.register_socket(aci, dev(1)).await.unwrap();
    let mut prov = a.register_provisioning("lost-address").await.unwrap();
    // As after a Redis restart without persistence.
    let mut raw = common::raw(&url).await;
    let _: () = raw.del(presence_key(&ns, aci, dev(1))).await.unwrap();
    let _: () = raw
        .del(format!("{ns}:provisioning:lost-address"))
        .await
        .unwrap();
    assert!(!b.is_present(aci, dev(1)).await);
    eventually(WAIT, "presence re-created", || async {
        b.is_present(aci, dev(1)).await
    })
    .await;
    eventually(WAIT, "provisioning re-created", || async {
        b.send_provisioning("lost-address", vec![5]).await.unwrap()
    })
    .await;
    assert_eq!(next_body(&mut prov).await, Some(vec![5]));
    b.notify_new_messages(aci, dev(1)).await;
    assert_eq!(
        next_event(&mut socket.events).await,
        Some(SocketEvent::NewMessages)
    );
}

/// A TCP proxy in front of Redis that can cut every connection and refuse new ones, to play a
/// Redis restart without disturbing anyone else using the same Redis.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    kill: broadcast::Sender<()>,
}

impl Proxy {
    async fn start(redis_url: &str) -> Proxy {
        let target = redis_url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (kill, _) = broadcast::channel(4);
        let (up2, kill2) = (up.clone(), kill.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let mut killed = kill2.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut upstream) => {}
                        _ = killed.recv() => {}
                    }
                });
            }
        });
        Proxy { addr, up, kill }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Cuts every connection and refuses new ones for `down_for`.
    async fn restart(&self, down_for: Duration) {
        self.up.store(false, Ordering::SeqCst);
        let _ = self.kill.send(());
        tokio::time::sleep(down_for).await;
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn reconnects_after_redis_restart() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let ns = common::namespace();
    let proxy = Proxy::start(&url).await;
    let a = common::node(&proxy.url(), common::config(&ns)).await;
    let b = common::node(&url, common::config(&ns)).await;
    let (x, y) = (Aci::random(), Aci::random());
    let mut socket = a.register_socket(x, dev(1)).await.unwrap();

    proxy.restart(Duration::from_millis(300)).await;

    // After resubscribing, the node wakes its sockets in case a wake-up was missed.
    assert_eq!(
        next_event(&mut socket.events).await,
        Some(SocketEvent::NewMessages)
    );
    // Pub/sub works again...
    assert!(b.deliver_ephemeral(x, dev(1), vec![9]).await);
    assert_eq!(
        next_event(&mut socket.events).await,
        Some(SocketEvent::Ephemeral(vec![9]))
    );
    // ...and so do commands.
    let _other = b.register_socket(y, dev(1)).await.unwrap();
    eventually(WAIT, "commands work again", || async {
        a.is_present(y, dev(1)).await
    })
    .await;
    let mut moved = a.register_socket(y, dev(2)).await.unwrap();
    b.notify_new_messages(y, dev(2)).await;
    assert_eq!(
        next_event(&mut moved.events).await,
        Some(SocketEvent::NewMessages)
    );
    a.take_permits("after-restart", 1, Duration::from_secs(1), 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn malformed_redis_data_never_panics() {
    let Some((a, b, ns, url)) = common::two_nodes().await else {
        return;
    };
    let aci = Aci::random();
    let mut raw = common::raw(&url).await;
    let _: () = raw
        .set(presence_key(&ns, aci, dev(1)), "garbage")
        .await
        .unwrap();
    let _: () = raw
        .set(format!("{ns}:provisioning:addr"), "garbage")
        .await
        .unwrap();
    let _: () = raw
        .set(format!("{ns}:rate:bucket"), "garbage")
        .await
        .unwrap();
    assert!(!b.is_present(aci, dev(1)).await);
    b.notify_new_messages(aci, dev(1)).await;
    assert!(!b.deliver_ephemeral(aci, dev(1), vec![1]).await);
    assert!(!b.send_provisioning("addr", vec![1]).await.unwrap());
    b.take_permits("bucket", 1, Duration::from_secs(1), 1)
        .await
        .unwrap();
    // Garbage on the node and broadcast channels is dropped.
    for channel in [
        format!("{ns}:node:{}", a.node_id()),
        format!("{ns}:broadcast"),
    ] {
        for payload in [
            vec![200u8],
            vec![0],
            vec![1, 2, 3],
            vec![5; 40],
            vec![4, 255, 255, 0],
        ] {
            let _: i64 = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&payload[..])
                .query_async(&mut raw)
                .await
                .unwrap();
        }
    }
    // A registration over the garbage works, and the node still works.
    let mut socket = a.register_socket(aci, dev(1)).await.unwrap();
    b.notify_new_messages(aci, dev(1)).await;
    assert_eq!(
        next_event(&mut socket.events).await,
        Some(SocketEvent::NewMessages)
    );
}

#[tokio::test]
async fn namespaces_are_isolated() {
    let Some((a, _b, _ns, url)) = common::two_nodes().await else {
        return;
    };
    let elsewhere = common::node(&url, common::config(&common::namespace())).await;
    let aci = Aci::random();
    let _socket = a.register_socket(aci, dev(1)).await.unwrap();
    assert!(a.is_present(aci, dev(1)).await);
    assert!(!elsewhere.is_present(aci, dev(1)).await);
}

#[tokio::test]
async fn connect_reports_bad_configuration_and_unreachable_redis() {
    let mut config = common::config("ok");
    config.namespace = "bad{ns}".into();
    assert!(matches!(
        RedisBus::connect_with("redis://127.0.0.1:6379", config).await,
        Err(BusError::Config(_))
    ));
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        RedisBus::connect_with("redis://127.0.0.1:1", common::config("ok")),
    )
    .await
    .expect("connecting to a closed port must fail, not hang");
    assert!(matches!(result, Err(BusError::Redis(_))));
}
