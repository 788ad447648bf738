//! The bus conformance suite, run on the in-process bus (both "nodes" are the same bus) and on
//! two `RedisBus` nodes sharing a fresh namespace.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{next_body, next_event};
use heliograph_bus::{Bus, RateLimitError, SocketEvent, SocketRegistration};
use heliograph_types::{Aci, DeviceId};
use tokio::sync::mpsc::UnboundedReceiver;

fn dev(n: u32) -> DeviceId {
    DeviceId::new(n).unwrap()
}

fn is_displaced(e: &Option<SocketEvent>) -> bool {
    e.as_ref() == Some(&SocketEvent::displaced())
}

fn is_reauth(e: &Option<SocketEvent>) -> bool {
    e.as_ref() == Some(&SocketEvent::reauthenticate())
}

/// Proves a socket received nothing before now: wakes it (through `via`) and checks that a
/// wake-up is the next thing it sees. Messages between two nodes keep their order, so anything
/// sent to it earlier would come first.
async fn assert_quiet(
    via: &dyn Bus,
    aci: Aci,
    device: DeviceId,
    rx: &mut UnboundedReceiver<SocketEvent>,
) {
    via.notify_new_messages(aci, device).await;
    assert_eq!(next_event(rx).await, Some(SocketEvent::NewMessages));
}

/// A closed socket's channel ends right after its `Close`.
async fn assert_ended(rx: &mut UnboundedReceiver<SocketEvent>) {
    assert_eq!(next_event(rx).await, None);
}

mod suite {
    use super::*;

    pub async fn presence(a: &dyn Bus, b: &dyn Bus) {
        let aci = Aci::random();
        assert!(!a.is_present(aci, dev(1)).await);
        let s = a.register_socket(aci, dev(1)).await.unwrap();
        assert!(a.is_present(aci, dev(1)).await);
        assert!(b.is_present(aci, dev(1)).await);
        assert!(!b.is_present(aci, dev(2)).await);
        a.unregister_socket(aci, dev(1), s.id).await;
        assert!(!a.is_present(aci, dev(1)).await);
        assert!(!b.is_present(aci, dev(1)).await);
        // Nothing to wake, nothing to deliver.
        b.notify_new_messages(aci, dev(1)).await;
        assert!(!b.deliver_ephemeral(aci, dev(1), vec![1]).await);
    }

    pub async fn displacement(a: &dyn Bus, b: &dyn Bus) {
        let aci = Aci::random();
        let mut other = a.register_socket(aci, dev(2)).await.unwrap();
        let mut first = a.register_socket(aci, dev(1)).await.unwrap();
        // A second socket on the other node displaces the first.
        let mut second = b.register_socket(aci, dev(1)).await.unwrap();
        assert_ne!(first.id, second.id);
        assert!(is_displaced(&next_event(&mut first.events).await));
        assert_ended(&mut first.events).await;
        // The stale unregister of the first socket leaves the second in place.
        a.unregister_socket(aci, dev(1), first.id).await;
        assert!(a.is_present(aci, dev(1)).await);
        assert!(b.is_present(aci, dev(1)).await);
        assert_quiet(a, aci, dev(1), &mut second.events).await;
        // A third socket on the same node displaces the second.
        let mut third = b.register_socket(aci, dev(1)).await.unwrap();
        assert!(is_displaced(&next_event(&mut second.events).await));
        b.unregister_socket(aci, dev(1), second.id).await;
        assert_quiet(a, aci, dev(1), &mut third.events).await;
        // The other device of the account was never touched.
        assert_quiet(b, aci, dev(2), &mut other.events).await;
        b.unregister_socket(aci, dev(1), third.id).await;
        assert!(!a.is_present(aci, dev(1)).await);
    }

    /// Registrations of one device at the same moment: exactly one survives, on any pair of
    /// nodes, and it is the one the bus routes to.
    pub async fn simultaneous_registrations(a: &dyn Bus, b: &dyn Bus) {
        for (round, same_node) in (0..10).map(|r| (r, r % 2 == 0)) {
            let aci = Aci::random();
            let second_node = if same_node { a } else { b };
            let (x, y) = tokio::join!(
                a.register_socket(aci, dev(1)),
                second_node.register_socket(aci, dev(1))
            );
            let (mut x, mut y): (SocketRegistration, SocketRegistration) = (x.unwrap(), y.unwrap());
            let first_close = tokio::time::timeout(common::WAIT, async {
                tokio::select! {
                    e = x.events.recv() => (0, e),
                    e = y.events.recv() => (1, e),
                }
            })
            .await
            .expect("one of two simultaneous registrations must be displaced");
            assert!(
                is_displaced(&first_close.1),
                "round {round}: {first_close:?}"
            );
            let (loser, survivor) = if first_close.0 == 0 {
                (&mut x, &mut y)
            } else {
                (&mut y, &mut x)
            };
            assert_ended(&mut loser.events).await;
            assert_quiet(a, aci, dev(1), &mut survivor.events).await;
            assert_quiet(b, aci, dev(1), &mut survivor.events).await;
            // The loser's (stale) unregister changes nothing.
            let (loser_id, survivor_id) = (loser.id, survivor.id);
            a.unregister_socket(aci, dev(1), loser_id).await;
            b.unregister_socket(aci, dev(1), loser_id).await;
            assert!(a.is_present(aci, dev(1)).await, "round {round}");
            assert!(b.deliver_ephemeral(aci, dev(1), vec![round]).await);
            assert_eq!(
                next_event(&mut survivor.events).await,
                Some(SocketEvent::Ephemeral(vec![round]))
            );
            let _ = survivor_id;
        }
    }

    pub async fn wakeups_and_ephemeral(a: &dyn Bus, b: &dyn Bus) {
        let (x, y) = (Aci::random(), Aci::random());
        let mut x1 = a.register_socket(x, dev(1)).await.unwrap();
        let mut x2 = b.register_socket(x, dev(2)).await.unwrap();
        let mut y1 = b.register_socket(y, dev(1)).await.unwrap();

        a.notify_new_messages(x, dev(2)).await;
        assert_eq!(
            next_event(&mut x2.events).await,
            Some(SocketEvent::NewMessages)
        );
        b.notify_new_messages(x, dev(1)).await;
        assert_eq!(
            next_event(&mut x1.events).await,
            Some(SocketEvent::NewMessages)
        );

        assert!(a.deliver_ephemeral(y, dev(1), b"typing".to_vec()).await);
        assert_eq!(
            next_event(&mut y1.events).await,
            Some(SocketEvent::Ephemeral(b"typing".to_vec()))
        );
        assert!(b.deliver_ephemeral(x, dev(1), vec![7; 1000]).await);
        assert_eq!(
            next_event(&mut x1.events).await,
            Some(SocketEvent::Ephemeral(vec![7; 1000]))
        );
        assert!(!a.deliver_ephemeral(y, dev(2), vec![1]).await);
        assert!(!b.deliver_ephemeral(Aci::random(), dev(1), vec![1]).await);
        a.notify_new_messages(y, dev(3)).await;

        // Nobody got anything meant for someone else.
        assert_quiet(a, x, dev(1), &mut x1.events).await;
        assert_quiet(a, x, dev(2), &mut x2.events).await;
        assert_quiet(a, y, dev(1), &mut y1.events).await;
    }

    pub async fn disconnects(a: &dyn Bus, b: &dyn Bus) {
        let (x, y) = (Aci::random(), Aci::random());
        let mut x1 = a.register_socket(x, dev(1)).await.unwrap();
        let mut x2 = b.register_socket(x, dev(2)).await.unwrap();
        let mut x3 = a.register_socket(x, dev(3)).await.unwrap();
        let mut y1 = a.register_socket(y, dev(1)).await.unwrap();
        let mut y2 = b.register_socket(y, dev(2)).await.unwrap();

        a.disconnect_device(x, dev(2)).await;
        assert!(is_reauth(&next_event(&mut x2.events).await));
        assert_ended(&mut x2.events).await;
        assert!(!a.is_present(x, dev(2)).await);
        assert!(!b.is_present(x, dev(2)).await);
        assert_quiet(b, x, dev(1), &mut x1.events).await;
        assert_quiet(b, x, dev(3), &mut x3.events).await;

        b.disconnect_account(x).await;
        assert!(is_reauth(&next_event(&mut x1.events).await));
        assert!(is_reauth(&next_event(&mut x3.events).await));
        for d in 1..=3 {
            assert!(!a.is_present(x, dev(d)).await);
            assert!(!b.is_present(x, dev(d)).await);
        }
        // The other account kept both its sockets.
        assert_quiet(b, y, dev(1), &mut y1.events).await;
        assert_quiet(a, y, dev(2), &mut y2.events).await;
        assert!(a.is_present(y, dev(2)).await);
        // Disconnecting what is not connected is harmless.
        a.disconnect_device(x, dev(5)).await;
        a.disconnect_account(Aci::random()).await;
    }

    pub async fn provisioning(a: &dyn Bus, b: &dyn Bus) {
        let address = uuid::Uuid::new_v4().to_string();
        let other = uuid::Uuid::new_v4().to_string();
        let mut rx = b.register_provisioning(&address).await.unwrap();
        let mut other_rx = a.register_provisioning(&other).await.unwrap();
        assert!(a
            .send_provisioning(&address, b"link".to_vec())
            .await
            .unwrap());
        assert_eq!(next_body(&mut rx).await, Some(b"link".to_vec()));
        assert!(b.send_provisioning(&address, vec![2]).await.unwrap());
        assert_eq!(next_body(&mut rx).await, Some(vec![2]));
        assert!(b.send_provisioning(&other, vec![3]).await.unwrap());
        assert_eq!(next_body(&mut other_rx).await, Some(vec![3]));
        assert!(!a
            .send_provisioning("no-such-address", vec![1])
            .await
            .unwrap());
        b.unregister_provisioning(&address).await;
        assert!(!a.send_provisioning(&address, vec![1]).await.unwrap());
        assert!(!b.send_provisioning(&address, vec![1]).await.unwrap());
        assert!(other_rx.try_recv().is_err());
    }

    pub async fn rate_limits(a: &dyn Bus, b: &dyn Bus) {
        let key = format!("test:{}", uuid::Uuid::new_v4());
        let regen = Duration::from_millis(300);
        for i in 0..5 {
            let node = if i % 2 == 0 { a } else { b };
            node.take_permits(&key, 5, regen, 1).await.unwrap();
        }
        let retry = match a.take_permits(&key, 5, regen, 1).await {
            Err(RateLimitError::RateLimited { retry_after }) => retry_after,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(retry > Duration::ZERO && retry <= regen, "{retry:?}");
        // Two permits need one more regeneration period than one.
        match b.take_permits(&key, 5, regen, 2).await {
            Err(RateLimitError::RateLimited { retry_after }) => {
                assert!(
                    retry_after > regen && retry_after <= 2 * regen,
                    "{retry_after:?}"
                )
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(
            a.take_permits(&key, 5, regen, 6).await,
            Err(RateLimitError::ExceedsCapacity {
                permits: 6,
                capacity: 5
            })
        ));
        // After the announced wait exactly one permit is back.
        tokio::time::sleep(retry + Duration::from_millis(20)).await;
        b.take_permits(&key, 5, regen, 1).await.unwrap();
        assert!(a.take_permits(&key, 5, regen, 1).await.is_err());
        // Other buckets are independent; zero permits and zero regen always pass.
        a.take_permits(&format!("{key}:other"), 1, regen, 1)
            .await
            .unwrap();
        a.take_permits(&key, 5, regen, 0).await.unwrap();
        a.take_permits(&key, 5, Duration::ZERO, 5).await.unwrap();
    }

    pub async fn rate_limits_are_atomic(a: &dyn Bus, b: &dyn Bus) {
        let key = format!("test:{}", uuid::Uuid::new_v4());
        let takers = (0..20).map(|i| {
            let node = if i % 2 == 0 { a } else { b };
            let key = key.clone();
            async move {
                node.take_permits(&key, 10, Duration::from_secs(60), 1)
                    .await
            }
        });
        let results = futures::future::join_all(takers).await;
        let granted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(granted, 10, "{results:?}");
        assert!(results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(RateLimitError::RateLimited { .. }))));
    }

    /// A socket task that ends without unregistering (a bug, or a panic) does not stay present.
    pub async fn abandoned_socket_is_not_present(a: &dyn Bus, b: &dyn Bus) {
        let aci = Aci::random();
        let s = a.register_socket(aci, dev(1)).await.unwrap();
        assert!(b.is_present(aci, dev(1)).await);
        drop(s);
        common::eventually(common::WAIT, "abandoned socket forgotten", || async {
            !a.is_present(aci, dev(1)).await && !b.is_present(aci, dev(1)).await
        })
        .await;
    }

    pub async fn socket_ids_are_unique(a: &dyn Bus, b: &dyn Bus) {
        let mut seen = HashSet::new();
        for i in 0..20u32 {
            let aci = Aci::random();
            let node = if i % 2 == 0 { a } else { b };
            let s = node.register_socket(aci, dev(1)).await.unwrap();
            assert!(seen.insert(s.id));
            assert_eq!(s.id.to_string().parse(), Ok(s.id));
            node.unregister_socket(aci, dev(1), s.id).await;
        }
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let bus = heliograph_bus::InProcessBus::new();
                    super::suite::$name(&bus, &bus).await;
                }
            )*
        }

        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((a, b, _ns, _url)) = super::common::two_nodes().await else {
                        return;
                    };
                    super::suite::$name(&a, &b).await;
                }
            )*
        }
    };
}

conformance!(
    presence,
    displacement,
    simultaneous_registrations,
    wakeups_and_ephemeral,
    disconnects,
    provisioning,
    rate_limits,
    rate_limits_are_atomic,
    socket_ids_are_unique,
    abandoned_socket_is_not_present,
);
