//! The conformance suite every backend must pass: async checks that take a [`Stores`] and
//! panic on the first broken promise.
//!
//! Every check uses fresh random ids, so several runs can share one database (a PostgreSQL
//! server used by parallel test processes). Run them all with [`run_all`], or one by one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashSet};

use heliograph_types::{Aci, DeviceId, MessageGuid, Pni, E164};

use crate::{
    Account, ConfirmOutcome, Device, IdentityType, KeyOwner, NewMessage, PreKeyCounts, SaltedHash,
    SessionId, StoreError, StoredPreKey, Stores, UsernameState, VerificationSession,
    VersionedProfile,
};

/// Runs every check in turn.
pub async fn run_all(stores: &Stores) {
    accounts(stores).await;
    account_conflicts(stores).await;
    account_updates(stores).await;
    keys(stores).await;
    keys_concurrent_take(stores).await;
    messages(stores).await;
    messages_expiry(stores).await;
    sessions(stores).await;
    used_tokens(stores).await;
    profiles(stores).await;
    usernames(stores).await;
    usernames_concurrent(stores).await;
    username_links(stores).await;
    usernames_expiry(stores).await;
}

/// A phone number no other run uses (15 digits from a random UUID).
fn random_e164() -> E164 {
    let n = uuid::Uuid::new_v4().as_u128() % 100_000_000_000_000;
    E164::parse(&format!("+1{n:014}")).expect("valid number")
}

fn device(id: u32) -> DeviceId {
    DeviceId::new(id).expect("valid device id")
}

fn hash() -> SaltedHash {
    SaltedHash {
        hash: "2.00".into(),
        salt: "00".into(),
    }
}

/// A fresh account with two devices and random identities.
pub fn sample_account() -> Account {
    let mk = |id: u32| Device {
        id: device(id),
        name: Some(vec![id as u8; 4]),
        password: hash(),
        registration_id: 100 + id,
        pni_registration_id: 200 + id,
        capabilities: vec!["deleteSync".into()],
        fetches_messages: id == 1,
        apn_token: None,
        gcm_token: Some("gcm".into()),
        user_agent: Some("OWD".into()),
        created_at_ms: 1_700_000_000_000,
        last_seen_ms: 1_700_000_000_000,
    };
    let mut extra = BTreeMap::new();
    extra.insert("profile".into(), serde_json::json!({"name": "x"}));
    Account {
        aci: Aci::random(),
        pni: Pni::random(),
        e164: random_e164(),
        aci_identity_key: vec![5; 33],
        pni_identity_key: vec![6; 33],
        unidentified_access_key: Some(vec![7; 16]),
        unrestricted_unidentified_access: false,
        discoverable_by_phone_number: true,
        registration_lock: Some(hash()),
        recovery_password: None,
        devices: vec![mk(1), mk(2)],
        created_at_ms: 1_700_000_000_000,
        current_profile_version: None,
        reserved_username_hash: None,
        version: 0,
        extra,
    }
}

/// Create, look up by each identity, delete.
pub async fn accounts(stores: &Stores) {
    let s = &stores.accounts;
    let account = sample_account();
    assert!(s.get_by_aci(account.aci).await.unwrap().is_none());
    s.create(&account).await.unwrap();
    assert_eq!(
        s.get_by_aci(account.aci).await.unwrap().as_ref(),
        Some(&account)
    );
    assert_eq!(
        s.get_by_pni(account.pni).await.unwrap().as_ref(),
        Some(&account)
    );
    assert_eq!(
        s.get_by_e164(&account.e164).await.unwrap().as_ref(),
        Some(&account)
    );
    assert!(s.get_by_pni(Pni::random()).await.unwrap().is_none());
    assert!(s.get_by_e164(&random_e164()).await.unwrap().is_none());
    assert!(s.delete(account.aci).await.unwrap());
    assert!(!s.delete(account.aci).await.unwrap());
    assert!(s.get_by_aci(account.aci).await.unwrap().is_none());
    assert!(s.get_by_e164(&account.e164).await.unwrap().is_none());
    // The number is free again.
    let mut again = sample_account();
    again.e164 = account.e164.clone();
    s.create(&again).await.unwrap();
    s.delete(again.aci).await.unwrap();
}

/// Each unique identity rejects a second account, naming the column.
pub async fn account_conflicts(stores: &Stores) {
    let s = &stores.accounts;
    let first = sample_account();
    s.create(&first).await.unwrap();

    let mut same_number = sample_account();
    same_number.e164 = first.e164.clone();
    let mut same_pni = sample_account();
    same_pni.pni = first.pni;
    let mut same_aci = sample_account();
    same_aci.aci = first.aci;
    for (account, column) in [(same_number, "e164"), (same_pni, "pni"), (same_aci, "aci")] {
        match s.create(&account).await {
            Err(StoreError::Conflict(c)) => assert_eq!(c, column),
            other => panic!("expected Conflict({column}), got {other:?}"),
        }
        // Nothing of the rejected account was stored.
        if column != "aci" {
            assert!(s.get_by_aci(account.aci).await.unwrap().is_none());
        }
    }
    // Moving another account onto the number conflicts too.
    let mut other = sample_account();
    s.create(&other).await.unwrap();
    other.e164 = first.e164.clone();
    assert!(matches!(
        s.update(&mut other).await,
        Err(StoreError::Conflict("e164"))
    ));
    s.delete(first.aci).await.unwrap();
    s.delete(other.aci).await.unwrap();
}

/// Optimistic updates: the version moves, a stale copy is refused, a deleted one is missing.
pub async fn account_updates(stores: &Stores) {
    let s = &stores.accounts;
    let mut account = sample_account();
    s.create(&account).await.unwrap();
    let mut stale = account.clone();

    let old_number = account.e164.clone();
    account.e164 = random_e164();
    account.devices[1].name = Some(b"renamed".to_vec());
    account
        .extra
        .insert("username".into(), serde_json::json!("abc.01"));
    let before = account.version;
    s.update(&mut account).await.unwrap();
    assert!(account.version > before);
    let stored = s.get_by_aci(account.aci).await.unwrap().unwrap();
    assert_eq!(stored, account);
    // The unique columns follow the document.
    assert!(s.get_by_e164(&old_number).await.unwrap().is_none());
    assert_eq!(
        s.get_by_e164(&account.e164).await.unwrap().unwrap().aci,
        account.aci
    );

    stale.discoverable_by_phone_number = false;
    assert!(matches!(s.update(&mut stale).await, Err(StoreError::Stale)));
    assert_eq!(s.get_by_aci(account.aci).await.unwrap().unwrap(), account);

    // Two updates in a row from the same copy both succeed.
    account.devices.pop();
    s.update(&mut account).await.unwrap();
    assert_eq!(s.get_by_aci(account.aci).await.unwrap().unwrap(), account);

    s.delete(account.aci).await.unwrap();
    assert!(matches!(
        s.update(&mut account).await,
        Err(StoreError::NotFound)
    ));
    let mut never = sample_account();
    assert!(matches!(
        s.update(&mut never).await,
        Err(StoreError::NotFound)
    ));
}

fn key(id: u32, len: usize) -> StoredPreKey {
    StoredPreKey {
        key_id: id,
        public_key: vec![(id % 251) as u8; len],
        signature: None,
    }
}

fn signed(id: u32, len: usize) -> StoredPreKey {
    StoredPreKey {
        key_id: id,
        public_key: vec![(id % 251) as u8; len],
        signature: Some(vec![9; 64]),
    }
}

/// Replace, take once in key-id order, last-resort fallback, counts, device/account delete.
pub async fn keys(stores: &Stores) {
    let k = &stores.keys;
    let aci = Aci::random();
    let owner = KeyOwner {
        aci,
        identity: IdentityType::Aci,
        device: device(1),
    };
    let pni_owner = KeyOwner {
        identity: IdentityType::Pni,
        ..owner
    };
    let other_device = KeyOwner {
        device: device(2),
        ..owner
    };

    assert_eq!(
        k.count_one_time(owner).await.unwrap(),
        PreKeyCounts::default()
    );
    assert!(k.take_ec_one_time(owner).await.unwrap().is_none());
    assert!(k.take_kem(owner).await.unwrap().is_none());
    assert!(k.get_ec_signed(owner).await.unwrap().is_none());

    k.replace_ec_one_time(owner, &[key(7, 33), key(3, 33), key(5, 33)])
        .await
        .unwrap();
    k.replace_ec_one_time(owner, &[key(12, 33), key(11, 33), key(4_000_000_000, 33)])
        .await
        .unwrap(); // replaces, not appends; full u32 range
    k.replace_kem_one_time(owner, &[signed(2, 1569), signed(1, 1569)])
        .await
        .unwrap();
    k.replace_ec_one_time(pni_owner, &[key(1, 33)])
        .await
        .unwrap();
    k.replace_ec_one_time(other_device, &[key(1, 33), key(2, 33)])
        .await
        .unwrap();
    assert_eq!(
        k.count_one_time(owner).await.unwrap(),
        PreKeyCounts { ec: 3, kem: 2 }
    );
    assert_eq!(
        k.count_one_time(pni_owner).await.unwrap(),
        PreKeyCounts { ec: 1, kem: 0 }
    );

    k.set_ec_signed(owner, &signed(1, 33)).await.unwrap();
    k.set_ec_signed(owner, &signed(2, 33)).await.unwrap();
    assert_eq!(k.get_ec_signed(owner).await.unwrap(), Some(signed(2, 33)));
    assert!(k.get_ec_signed(pni_owner).await.unwrap().is_none());
    k.set_kem_last_resort(owner, &signed(90, 1569))
        .await
        .unwrap();
    assert_eq!(
        k.get_kem_last_resort(owner).await.unwrap(),
        Some(signed(90, 1569))
    );

    // Lowest id first, each once.
    for expected in [11, 12, 4_000_000_000] {
        assert_eq!(
            k.take_ec_one_time(owner).await.unwrap(),
            Some(key(expected, 33))
        );
    }
    assert!(k.take_ec_one_time(owner).await.unwrap().is_none());
    assert_eq!(
        k.take_kem(owner).await.unwrap(),
        Some(signed(1, 1569)),
        "one-time KEM keys keep their signature"
    );
    assert_eq!(k.take_kem(owner).await.unwrap(), Some(signed(2, 1569)));
    // Then the last-resort key, which stays.
    assert_eq!(k.take_kem(owner).await.unwrap(), Some(signed(90, 1569)));
    assert_eq!(k.take_kem(owner).await.unwrap(), Some(signed(90, 1569)));
    assert_eq!(
        k.count_one_time(owner).await.unwrap(),
        PreKeyCounts::default()
    );
    // Other identities and devices are untouched.
    assert_eq!(k.count_one_time(pni_owner).await.unwrap().ec, 1);
    assert_eq!(k.count_one_time(other_device).await.unwrap().ec, 2);

    // Deleting a device removes both identities' keys of that device only.
    k.replace_ec_one_time(owner, &[key(1, 33)]).await.unwrap();
    k.set_ec_signed(pni_owner, &signed(3, 33)).await.unwrap();
    k.set_ec_signed(other_device, &signed(4, 33)).await.unwrap();
    k.delete_device(aci, device(1)).await.unwrap();
    assert_eq!(
        k.count_one_time(owner).await.unwrap(),
        PreKeyCounts::default()
    );
    assert_eq!(
        k.count_one_time(pni_owner).await.unwrap(),
        PreKeyCounts::default()
    );
    assert!(k.get_ec_signed(owner).await.unwrap().is_none());
    assert!(k.get_ec_signed(pni_owner).await.unwrap().is_none());
    assert!(k.get_kem_last_resort(owner).await.unwrap().is_none());
    assert_eq!(k.count_one_time(other_device).await.unwrap().ec, 2);
    assert_eq!(
        k.get_ec_signed(other_device).await.unwrap(),
        Some(signed(4, 33))
    );

    // Another account's keys survive an account delete.
    let stranger = KeyOwner {
        aci: Aci::random(),
        ..owner
    };
    k.replace_ec_one_time(stranger, &[key(1, 33)])
        .await
        .unwrap();
    k.delete_account(aci).await.unwrap();
    assert_eq!(
        k.count_one_time(other_device).await.unwrap(),
        PreKeyCounts::default()
    );
    assert!(k.get_ec_signed(other_device).await.unwrap().is_none());
    assert_eq!(k.count_one_time(stranger).await.unwrap().ec, 1);
    k.delete_account(stranger.aci).await.unwrap();
}

/// Sixteen concurrent takers share ten one-time keys: exactly ten distinct keys go out.
pub async fn keys_concurrent_take(stores: &Stores) {
    let owner = KeyOwner {
        aci: Aci::random(),
        identity: IdentityType::Aci,
        device: device(1),
    };
    let keys: Vec<StoredPreKey> = (1..=10).map(|id| key(id, 33)).collect();
    stores.keys.replace_ec_one_time(owner, &keys).await.unwrap();
    stores
        .keys
        .replace_kem_one_time(owner, &keys)
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = stores.keys.clone();
        tasks.push(tokio::spawn(async move {
            let ec = store.take_ec_one_time(owner).await.unwrap();
            let kem = store.take_kem(owner).await.unwrap();
            (ec, kem)
        }));
    }
    let mut ec_ids = Vec::new();
    let mut kem_ids = Vec::new();
    for task in tasks {
        let (ec, kem) = task.await.unwrap();
        ec_ids.extend(ec.map(|k| k.key_id));
        kem_ids.extend(kem.map(|k| k.key_id));
    }
    for ids in [ec_ids, kem_ids] {
        assert_eq!(ids.len(), 10, "handed out {ids:?}");
        let distinct: HashSet<u32> = ids.iter().copied().collect();
        assert_eq!(distinct, (1..=10).collect::<HashSet<u32>>());
    }
    assert_eq!(
        stores.keys.count_one_time(owner).await.unwrap(),
        PreKeyCounts::default()
    );
    stores.keys.delete_account(owner.aci).await.unwrap();
}

fn message(aci: Aci, dev: u32, ts: i64, expires: i64) -> NewMessage {
    NewMessage {
        aci,
        device: device(dev),
        guid: MessageGuid::random(),
        server_timestamp_ms: ts,
        expires_at_ms: expires,
        story: ts % 2 == 0,
        urgent: ts % 3 == 0,
        envelope: format!("envelope {ts}").into_bytes(),
    }
}

/// Queues: atomic multi-device insert, ordered paged reads, delete-once, counts, isolation.
pub async fn messages(stores: &Stores) {
    let m = &stores.messages;
    let aci = Aci::random();
    let far = i64::MAX / 2;

    assert!(m.read(aci, device(1), None, 10).await.unwrap().is_empty());
    assert_eq!(m.count(aci, device(1)).await.unwrap(), 0);

    // One send to two devices, then four more to device 1.
    let first = [message(aci, 1, 1, far), message(aci, 2, 1, far)];
    m.insert(&first).await.unwrap();
    let more: Vec<NewMessage> = (2..=5).map(|ts| message(aci, 1, ts, far)).collect();
    m.insert(&more).await.unwrap();
    m.insert(&[]).await.unwrap();
    assert_eq!(m.count(aci, device(1)).await.unwrap(), 5);
    assert_eq!(m.count(aci, device(2)).await.unwrap(), 1);

    let all = m.read(aci, device(1), None, 100).await.unwrap();
    let expected: Vec<&NewMessage> = std::iter::once(&first[0]).chain(more.iter()).collect();
    assert_eq!(all.len(), 5);
    for (stored, sent) in all.iter().zip(&expected) {
        assert_eq!(stored.guid, sent.guid);
        assert_eq!(stored.server_timestamp_ms, sent.server_timestamp_ms);
        assert_eq!(stored.expires_at_ms, sent.expires_at_ms);
        assert_eq!(stored.story, sent.story);
        assert_eq!(stored.urgent, sent.urgent);
        assert_eq!(stored.envelope, sent.envelope);
    }
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));

    // Paging with `after`.
    let page1 = m.read(aci, device(1), None, 2).await.unwrap();
    let page2 = m
        .read(aci, device(1), Some(page1[1].position), 2)
        .await
        .unwrap();
    let page3 = m
        .read(aci, device(1), Some(page2[1].position), 2)
        .await
        .unwrap();
    let page4 = m
        .read(aci, device(1), Some(page3[0].position), 2)
        .await
        .unwrap();
    let paged: Vec<_> = [page1, page2, page3.clone()].concat();
    assert_eq!(paged, all);
    assert_eq!(page3.len(), 1);
    assert!(page4.is_empty());

    // Device 2 sees only its own copy.
    let other = m.read(aci, device(2), None, 100).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].guid, first[1].guid);
    // The device-1 GUID does not delete from device 2 (nor from another account).
    assert!(m
        .delete(aci, device(2), first[0].guid)
        .await
        .unwrap()
        .is_none());
    assert!(m
        .delete(Aci::random(), device(1), first[0].guid)
        .await
        .unwrap()
        .is_none());

    // Delete returns the row once.
    let gone = m.delete(aci, device(1), all[2].guid).await.unwrap();
    assert_eq!(gone.as_ref(), Some(&all[2]));
    assert!(m
        .delete(aci, device(1), all[2].guid)
        .await
        .unwrap()
        .is_none());
    assert_eq!(m.count(aci, device(1)).await.unwrap(), 4);
    let rest = m.read(aci, device(1), None, 100).await.unwrap();
    assert_eq!(rest, [&all[..2], &all[3..]].concat());

    // Positions keep growing after deleting the newest message.
    let last = all[4].clone();
    m.delete(aci, device(1), last.guid).await.unwrap();
    let newer = message(aci, 1, 6, far);
    m.insert(std::slice::from_ref(&newer)).await.unwrap();
    let tail = m
        .read(aci, device(1), Some(all[3].position), 10)
        .await
        .unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].guid, newer.guid);
    assert!(tail[0].position > last.position);

    // A failing batch stores nothing: the duplicate GUID in the second row aborts it.
    let batch = [
        message(aci, 3, 8, far),
        newer.clone(),
        message(aci, 3, 7, far),
    ];
    assert!(matches!(
        m.insert(&batch).await,
        Err(StoreError::Conflict("guid"))
    ));
    assert_eq!(m.count(aci, device(3)).await.unwrap(), 0);
    assert_eq!(m.count(aci, device(1)).await.unwrap(), 4);

    // Dropping a device queue, then the account's.
    m.delete_device(aci, device(1)).await.unwrap();
    assert_eq!(m.count(aci, device(1)).await.unwrap(), 0);
    assert_eq!(m.count(aci, device(2)).await.unwrap(), 1);
    m.insert(&[message(aci, 1, 9, far)]).await.unwrap();
    let bystander = Aci::random();
    m.insert(&[message(bystander, 1, 1, far)]).await.unwrap();
    m.delete_account(aci).await.unwrap();
    assert_eq!(m.count(aci, device(1)).await.unwrap(), 0);
    assert_eq!(m.count(aci, device(2)).await.unwrap(), 0);
    assert_eq!(m.count(bystander, device(1)).await.unwrap(), 1);
    m.delete_account(bystander).await.unwrap();
}

/// Expired messages are deleted, live ones stay.
pub async fn messages_expiry(stores: &Stores) {
    let m = &stores.messages;
    let aci = Aci::random();
    // Expired messages lie far in the past and live ones far in the future, so runs sharing
    // one database only ever remove each other's expired messages.
    let past = -1_000_000_000_000;
    let old = message(aci, 1, 1, past);
    let live = message(aci, 1, 2, i64::MAX / 2);
    let old_other_device = message(aci, 2, 3, past - 1);
    m.insert(&[old.clone(), live.clone(), old_other_device])
        .await
        .unwrap();
    m.delete_expired(past + 1).await.unwrap();
    assert_eq!(m.count(aci, device(2)).await.unwrap(), 0);
    let left = m.read(aci, device(1), None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].guid, live.guid);
    assert!(m.delete(aci, device(1), old.guid).await.unwrap().is_none());
    m.delete_account(aci).await.unwrap();
}

/// Sessions: put/replace, get before expiry only, delete_expired.
pub async fn sessions(stores: &Stores) {
    let s = &stores.sessions;
    // One fixed clock for every run, so concurrent runs agree on what has expired.
    let now = 1_700_000_000_000;
    let ttl = 600_000;
    let id = SessionId(uuid::Uuid::new_v4().as_bytes().to_vec());
    let mut session = VerificationSession {
        id: id.clone(),
        expires_at_ms: now + ttl,
        state: serde_json::json!({"number": "+15550001", "requested": ["sms"], "n": 1}),
    };
    assert!(s.get(&id, now).await.unwrap().is_none());
    s.put(&session).await.unwrap();
    assert_eq!(s.get(&id, now).await.unwrap().as_ref(), Some(&session));
    session.state = serde_json::json!({"verified": true});
    s.put(&session).await.unwrap();
    assert_eq!(s.get(&id, now).await.unwrap().as_ref(), Some(&session));
    // Unusable from its expiry time on.
    assert!(s.get(&id, now + ttl - 1).await.unwrap().is_some());
    assert!(s.get(&id, now + ttl).await.unwrap().is_none());
    let other = SessionId(uuid::Uuid::new_v4().as_bytes().to_vec());
    assert!(s.get(&other, now).await.unwrap().is_none());

    // delete_expired removes expired sessions only.
    let short = VerificationSession {
        id: other.clone(),
        expires_at_ms: now + 1_000,
        state: serde_json::json!({}),
    };
    s.put(&short).await.unwrap();
    s.delete_expired(now + 5_000).await.unwrap();
    assert!(s.get(&other, now).await.unwrap().is_none());
    assert!(s.get(&id, now).await.unwrap().is_some());
}

/// Tokens are accepted once; expired records are forgotten.
pub async fn used_tokens(stores: &Stores) {
    let t = &stores.used_tokens;
    let live = i64::MAX / 2;
    let token = uuid::Uuid::new_v4().as_bytes().to_vec();
    let other = uuid::Uuid::new_v4().as_bytes().to_vec();
    assert!(t.mark_used(&token, live).await.unwrap());
    assert!(!t.mark_used(&token, live).await.unwrap());
    assert!(t.mark_used(&other, live).await.unwrap());

    // Once expired and forgotten, the hash can be recorded again.
    let old = uuid::Uuid::new_v4().as_bytes().to_vec();
    assert!(t.mark_used(&old, 1_000).await.unwrap());
    t.delete_expired(1_001).await.unwrap();
    assert!(t.mark_used(&old, live).await.unwrap());
    assert!(!t.mark_used(&token, live).await.unwrap());

    // Concurrent marks of one token: exactly one wins.
    let contested = uuid::Uuid::new_v4().as_bytes().to_vec();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = stores.used_tokens.clone();
        let token = contested.clone();
        tasks.push(tokio::spawn(async move {
            store.mark_used(&token, live).await.unwrap()
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
}

/// Checks shared by backends' own tests: the reopened store still holds this account.
pub async fn assert_account_present(stores: &Stores, account: &Account) {
    assert_eq!(
        stores
            .accounts
            .get_by_aci(account.aci)
            .await
            .unwrap()
            .as_ref(),
        Some(account)
    );
}

fn profile(version: &str, avatar: Option<&str>, commitment: u8) -> VersionedProfile {
    VersionedProfile {
        version: version.into(),
        name: Some(vec![1; 81]),
        about: Some(vec![2; 156]),
        about_emoji: None,
        avatar: avatar.map(Into::into),
        payment_address: Some(Vec::new()),
        phone_number_sharing: Some(vec![3; 29]),
        commitment: vec![commitment; 97],
    }
}

/// Versioned profiles: set, read per version, replace keeping the commitment, delete all.
pub async fn profiles(stores: &Stores) {
    let s = &stores.profiles;
    let aci = Aci::random();
    let (v1, v2) = ("a".repeat(64), "b".repeat(64));
    assert!(s.get(aci, &v1).await.unwrap().is_none());
    s.set(aci, &profile(&v1, Some("profiles/one"), 1))
        .await
        .unwrap();
    s.set(aci, &profile(&v2, None, 2)).await.unwrap();
    assert_eq!(
        s.get(aci, &v1).await.unwrap(),
        Some(profile(&v1, Some("profiles/one"), 1))
    );
    assert_eq!(s.get(aci, &v2).await.unwrap(), Some(profile(&v2, None, 2)));
    // Another account's versions are separate.
    assert!(s.get(Aci::random(), &v1).await.unwrap().is_none());

    // Replacing a version updates its fields but keeps the first commitment.
    let mut changed = profile(&v1, Some("profiles/two"), 9);
    changed.name = Some(vec![7; 285]);
    changed.about = None;
    s.set(aci, &changed).await.unwrap();
    let stored = s.get(aci, &v1).await.unwrap().unwrap();
    assert_eq!(stored.name, Some(vec![7; 285]));
    assert_eq!(stored.about, None);
    assert_eq!(stored.avatar.as_deref(), Some("profiles/two"));
    assert_eq!(stored.commitment, vec![1; 97]);

    s.set(aci, &profile(&"c".repeat(64), Some("profiles/two"), 3))
        .await
        .unwrap();
    assert_eq!(
        s.delete_account(aci).await.unwrap(),
        vec!["profiles/two".to_string()]
    );
    assert!(s.get(aci, &v1).await.unwrap().is_none());
    assert!(s.delete_account(aci).await.unwrap().is_empty());
}

fn username_hash() -> Vec<u8> {
    let mut h = uuid::Uuid::new_v4().as_bytes().to_vec();
    h.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    h
}

const HOUR: i64 = 3_600_000;

/// Reservation, confirmation, holds, expiry and release.
pub async fn usernames(stores: &Stores) {
    let s = &stores.usernames;
    // Above every expiry sweep of `usernames_expiry` (which may run at the same time on a
    // shared database), so none of these rows is swept mid-check.
    let now = 8_000_000_000_000;
    let (alice, bob) = (Aci::random(), Aci::random());
    let (h1, h2, h3) = (username_hash(), username_hash(), username_hash());
    let handle = uuid::Uuid::new_v4();

    assert_eq!(s.state(alice).await.unwrap(), UsernameState::default());
    assert!(s.reserve(alice, &h1, now + HOUR, now).await.unwrap());
    // Reserved for Alice: Bob cannot reserve or confirm it while the reservation lasts.
    assert!(!s.reserve(bob, &h1, now + HOUR, now).await.unwrap());
    assert_eq!(
        s.confirm(bob, &h1, None, handle, now, now + HOUR, 3)
            .await
            .unwrap(),
        ConfirmOutcome::Taken
    );
    // Alice may reserve it again (it stays hers); a lookup finds nothing until confirmed.
    assert!(s.reserve(alice, &h1, now + 2 * HOUR, now).await.unwrap());
    assert!(s.lookup(&h1).await.unwrap().is_none());

    let enc = vec![4u8; 64];
    assert_eq!(
        s.confirm(alice, &h1, Some(&enc), handle, now, now + HOUR, 3)
            .await
            .unwrap(),
        ConfirmOutcome::Confirmed
    );
    assert_eq!(s.lookup(&h1).await.unwrap(), Some(alice));
    assert_eq!(
        s.state(alice).await.unwrap(),
        UsernameState {
            hash: Some(h1.clone()),
            link_handle: Some(handle),
        }
    );
    assert_eq!(s.lookup_link(handle).await.unwrap(), Some(enc.clone()));
    // Confirming again is a no-op; reserving one's own confirmed hash succeeds.
    assert_eq!(
        s.confirm(alice, &h1, None, uuid::Uuid::new_v4(), now, now + HOUR, 3)
            .await
            .unwrap(),
        ConfirmOutcome::Confirmed
    );
    assert_eq!(s.state(alice).await.unwrap().link_handle, Some(handle));
    assert!(s.reserve(alice, &h1, now + HOUR, now).await.unwrap());
    // A confirmed hash never lapses.
    assert!(!s
        .reserve(bob, &h1, now + HOUR, now + 1000 * HOUR)
        .await
        .unwrap());

    // Moving to h2: h1 becomes a hold that Bob cannot take until it lapses.
    assert!(s.reserve(alice, &h2, now + HOUR, now).await.unwrap());
    assert_eq!(
        s.confirm(
            alice,
            &h2,
            None,
            uuid::Uuid::new_v4(),
            now,
            now + 5 * HOUR,
            3
        )
        .await
        .unwrap(),
        ConfirmOutcome::Confirmed
    );
    assert_eq!(s.lookup(&h2).await.unwrap(), Some(alice));
    assert!(s.lookup(&h1).await.unwrap().is_none());
    // Confirming without an encrypted username removed the link.
    assert_eq!(s.state(alice).await.unwrap().link_handle, None);
    assert!(s.lookup_link(handle).await.unwrap().is_none());
    assert!(!s.reserve(bob, &h1, now + HOUR, now + HOUR).await.unwrap());
    assert!(s
        .reserve(bob, &h1, now + 7 * HOUR, now + 6 * HOUR)
        .await
        .unwrap());

    // A reservation that lapsed is free for others, and its former holder's confirm fails.
    assert!(s.reserve(alice, &h3, now + HOUR, now).await.unwrap());
    assert!(s
        .reserve(bob, &h3, now + 3 * HOUR, now + 2 * HOUR)
        .await
        .unwrap());
    assert_eq!(
        s.confirm(alice, &h3, None, handle, now + 2 * HOUR, now + 9 * HOUR, 3)
            .await
            .unwrap(),
        ConfirmOutcome::Taken
    );
    // A lapsed reservation nobody took can still be confirmed by its holder.
    let h4 = username_hash();
    assert!(s.reserve(alice, &h4, now + HOUR, now).await.unwrap());
    assert_eq!(
        s.confirm(alice, &h4, None, handle, now + 2 * HOUR, now + 9 * HOUR, 3)
            .await
            .unwrap(),
        ConfirmOutcome::Confirmed
    );

    // Clearing releases the username into a hold and removes the link.
    s.set_link(alice, &enc, false, handle).await.unwrap();
    s.clear(alice, now + 10 * HOUR, 3).await.unwrap();
    assert_eq!(s.state(alice).await.unwrap(), UsernameState::default());
    assert!(s.lookup(&h4).await.unwrap().is_none());
    assert!(s.lookup_link(handle).await.unwrap().is_none());
    assert!(!s
        .reserve(bob, &h4, now + 11 * HOUR, now + 9 * HOUR)
        .await
        .unwrap());
    assert!(s
        .reserve(alice, &h4, now + 11 * HOUR, now + 9 * HOUR)
        .await
        .unwrap());
    s.clear(alice, now + 10 * HOUR, 3).await.unwrap();

    // Only the newest holds are kept.
    let mut held = Vec::new();
    for i in 0..4 {
        let h = username_hash();
        assert!(s.reserve(alice, &h, now + HOUR, now).await.unwrap());
        assert_eq!(
            s.confirm(alice, &h, None, handle, now, now + 20 * HOUR + i, 2)
                .await
                .unwrap(),
            ConfirmOutcome::Confirmed
        );
        held.push(h);
    }
    s.clear(alice, now + 30 * HOUR, 2).await.unwrap();
    // Holds: held[3] (newest) and held[2]; held[0] and held[1] were dropped.
    assert!(s.reserve(bob, &held[0], now + HOUR, now).await.unwrap());
    assert!(s.reserve(bob, &held[1], now + HOUR, now).await.unwrap());
    assert!(!s.reserve(bob, &held[2], now + HOUR, now).await.unwrap());
    assert!(!s.reserve(bob, &held[3], now + HOUR, now).await.unwrap());

    for aci in [alice, bob] {
        s.delete_account(aci).await.unwrap();
        assert_eq!(s.state(aci).await.unwrap(), UsernameState::default());
    }
    assert!(s
        .reserve(Aci::random(), &held[3], now + HOUR, now)
        .await
        .unwrap());
}

/// Sweeping lapsed reservations and holds: a confirmed username always survives; where the
/// database is private to this run (`exclusive`), the sweep's count is checked too (on a
/// shared database another run's sweep may remove these rows first).
pub async fn usernames_expiry_with(stores: &Stores, exclusive: bool) {
    let s = &stores.usernames;
    // Below every other check's rows; sweeps never reach above 3e12.
    let now = 1_000_000_000_000;
    let (carol, dave) = (Aci::random(), Aci::random());
    let (kept, lapsed) = (username_hash(), username_hash());
    assert!(s.reserve(carol, &kept, now + HOUR, now).await.unwrap());
    assert_eq!(
        s.confirm(carol, &kept, None, uuid::Uuid::new_v4(), now, now, 3)
            .await
            .unwrap(),
        ConfirmOutcome::Confirmed
    );
    assert!(s.reserve(dave, &lapsed, now + HOUR, now).await.unwrap());
    let swept = s.delete_expired(now + 2 * HOUR).await.unwrap();
    if exclusive {
        assert_eq!(swept, 1, "only the lapsed reservation goes");
    }
    assert_eq!(s.lookup(&kept).await.unwrap(), Some(carol));
    // The lapsed hash is free for anyone.
    assert!(s
        .reserve(carol, &lapsed, now + 3 * HOUR, now + 2 * HOUR)
        .await
        .unwrap());
    for aci in [carol, dave] {
        s.delete_account(aci).await.unwrap();
    }
}

/// [`usernames_expiry_with`] on a possibly shared database.
pub async fn usernames_expiry(stores: &Stores) {
    usernames_expiry_with(stores, false).await;
}

/// Many accounts racing for one hash: exactly one reservation and one confirmation win.
pub async fn usernames_concurrent(stores: &Stores) {
    // Later than any expiry sweep of the other checks, which may run at the same time on a
    // shared database and would otherwise drop this reservation mid-race.
    let now = 7_000_000_000_000;
    let hash = username_hash();
    let accounts: Vec<Aci> = (0..16).map(|_| Aci::random()).collect();
    let tasks: Vec<_> = accounts
        .iter()
        .map(|&aci| {
            let s = stores.usernames.clone();
            let hash = hash.clone();
            tokio::spawn(
                async move { (aci, s.reserve(aci, &hash, now + HOUR, now).await.unwrap()) },
            )
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (aci, won) = t.await.unwrap();
        if won {
            winners.push(aci);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one reservation wins");

    // After the reservation lapses, everyone confirms at once: one wins.
    let later = now + 2 * HOUR;
    let tasks: Vec<_> = accounts
        .iter()
        .map(|&aci| {
            let s = stores.usernames.clone();
            let hash = hash.clone();
            tokio::spawn(async move {
                let outcome = s
                    .confirm(aci, &hash, None, uuid::Uuid::new_v4(), later, later, 3)
                    .await
                    .unwrap();
                (aci, outcome)
            })
        })
        .collect();
    let mut confirmed = Vec::new();
    for t in tasks {
        let (aci, outcome) = t.await.unwrap();
        if outcome == ConfirmOutcome::Confirmed {
            confirmed.push(aci);
        }
    }
    assert_eq!(confirmed.len(), 1, "exactly one confirmation wins");
    assert_eq!(
        stores.usernames.lookup(&hash).await.unwrap(),
        Some(confirmed[0])
    );
    for aci in accounts {
        stores.usernames.delete_account(aci).await.unwrap();
    }
}

/// Username links: need a username, keep or rotate the handle, delete.
pub async fn username_links(stores: &Stores) {
    let s = &stores.usernames;
    // See `usernames_concurrent`: out of reach of the other checks' expiry sweeps.
    let now = 6_000_000_000_000;
    let aci = Aci::random();
    let (first, second) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    assert_eq!(s.set_link(aci, &[1; 32], false, first).await.unwrap(), None);
    assert!(s.lookup_link(first).await.unwrap().is_none());

    let h = username_hash();
    assert!(s.reserve(aci, &h, now + HOUR, now).await.unwrap());
    s.confirm(aci, &h, None, first, now, now, 3).await.unwrap();
    assert_eq!(
        s.set_link(aci, &[1; 32], false, first).await.unwrap(),
        Some(first)
    );
    assert_eq!(s.lookup_link(first).await.unwrap(), Some(vec![1; 32]));
    // keep_handle keeps the old handle but stores the new value.
    assert_eq!(
        s.set_link(aci, &[2; 48], true, second).await.unwrap(),
        Some(first)
    );
    assert_eq!(s.lookup_link(first).await.unwrap(), Some(vec![2; 48]));
    // Without it the handle rotates and the old one stops resolving.
    assert_eq!(
        s.set_link(aci, &[3; 16], false, second).await.unwrap(),
        Some(second)
    );
    assert!(s.lookup_link(first).await.unwrap().is_none());
    assert_eq!(s.lookup_link(second).await.unwrap(), Some(vec![3; 16]));
    assert_eq!(s.state(aci).await.unwrap().link_handle, Some(second));
    s.delete_link(aci).await.unwrap();
    s.delete_link(aci).await.unwrap();
    assert!(s.lookup_link(second).await.unwrap().is_none());
    assert_eq!(s.state(aci).await.unwrap().hash, Some(h));
    s.delete_account(aci).await.unwrap();
}
