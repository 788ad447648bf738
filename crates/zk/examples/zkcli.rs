//! Command-line access to the zkgroup server operations, for interop tests against libsignal.
//!
//! All binary values are hex on the command line and on stdout. Times are epoch seconds.
//! Service ids are libsignal service-id strings (`<uuid>` for an ACI, `PNI:<uuid>` for a PNI).
//!
//! Usernames are given as plain strings (`nickname.discriminator`).
//!
//! A leading `--random <32-byte hex>` makes the randomized operations (sign, issue-*,
//! username-proof) deterministic, for byte-exact comparison with libsignal's `...WithRandom` functions.
//!
//! ```text
//! zkcli gen-params                                   -> secret params
//! zkcli gen-params-seed <randomness32>               -> secret params (deterministic)
//! zkcli public-params <secret>                       -> public params
//! zkcli sign <secret> <message>                      -> 64-byte signature
//! zkcli issue-auth <secret> <aci-uuid> <pni-uuid> <redemption>   -> AuthCredentialWithPniResponse
//! zkcli issue-auth-no-pni <secret> <aci-uuid> <salt> <redemption> -> AuthCredentialWithPniResponse
//! zkcli verify-auth <secret> <group-public> <presentation> <now> -> "ok" (exit 0) / error (exit 1)
//! zkcli issue-endorsements <secret> <expiration> <ct>[,<ct>...]  -> GroupSendEndorsementsResponse
//! zkcli verify-token <secret> <full-token> <now> <sid>[,<sid>...] -> "ok" / error
//! zkcli issue-profile <secret> <request> <aci-uuid> <commitment> <expiration> -> response
//! zkcli derived-key <secret> <expiration>            -> GroupSendDerivedKeyPair
//! zkcli verify-profile <secret> <group-public> <presentation> <now> -> "ok" / error
//! zkcli username-hash <username>                     -> 32-byte username hash
//! zkcli username-proof <username>                    -> 128-byte username proof
//! zkcli verify-username <proof> <hash>               -> "ok" / error
//! ```

use std::process::ExitCode;
use std::str::FromStr;

use heliograph_types::{Aci, Pni, ServiceId};
use heliograph_zk::endorsements::{
    GroupSendDerivedKeyPair, GroupSendEndorsementsResponse, GroupSendFullToken,
};
use heliograph_zk::username::Username;
use heliograph_zk::{username_hash, verify_username_proof, ServerSecretParams};
use rand::rngs::OsRng;

type CliResult = Result<String, String>;

fn hexarg(s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s).map_err(|e| format!("bad hex: {e}"))
}

fn secret(s: &str) -> Result<ServerSecretParams, String> {
    ServerSecretParams::deserialize(&hexarg(s)?).map_err(|e| e.to_string())
}

fn num(s: &str) -> Result<u64, String> {
    s.parse().map_err(|e| format!("bad number {s}: {e}"))
}

fn uuid(s: &str) -> Result<uuid::Uuid, String> {
    uuid::Uuid::parse_str(s).map_err(|e| format!("bad uuid {s}: {e}"))
}

/// Randomness source: the OS, or a fixed 32-byte value given with `--random`.
enum Rand {
    Os,
    Fixed([u8; 32]),
}

impl Rand {
    fn bytes(&self) -> [u8; 32] {
        match self {
            Rand::Os => {
                let mut r = [0u8; 32];
                rand::RngCore::fill_bytes(&mut OsRng, &mut r);
                r
            }
            Rand::Fixed(r) => *r,
        }
    }
}

fn seed32(s: &str) -> Result<[u8; 32], String> {
    hexarg(s)?
        .try_into()
        .map_err(|_| "randomness must be 32 bytes".to_string())
}

fn run(args: &[String]) -> CliResult {
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    let rnd = if a.first() == Some(&"--random") && a.len() >= 2 {
        let r = Rand::Fixed(seed32(a[1])?);
        a.drain(..2);
        r
    } else {
        Rand::Os
    };
    match a.as_slice() {
        ["gen-params"] => Ok(hex::encode(
            ServerSecretParams::generate(&mut OsRng).serialize(),
        )),
        ["gen-params-seed", seed] => Ok(hex::encode(
            ServerSecretParams::generate_deterministic(&seed32(seed)?).serialize(),
        )),
        ["derived-key", s, exp] => Ok(hex::encode(
            GroupSendDerivedKeyPair::for_expiration(num(exp)?, &secret(s)?).serialize(),
        )),
        ["public-params", s] => Ok(hex::encode(secret(s)?.get_public_params().serialize())),
        ["sign", s, msg] => secret(s)?
            .sign_deterministic(&rnd.bytes(), &hexarg(msg)?)
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["issue-auth", s, aci, pni, t] => secret(s)?
            .issue_auth_credential_with_pni_zkc_deterministic(
                &rnd.bytes(),
                Aci::from_uuid(uuid(aci)?),
                Pni::from_uuid(uuid(pni)?),
                num(t)?,
            )
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["issue-auth-no-pni", s, aci, salt, t] => secret(s)?
            .issue_auth_credential_zkc_without_pni_deterministic(
                &rnd.bytes(),
                Aci::from_uuid(uuid(aci)?),
                &hexarg(salt)?,
                num(t)?,
            )
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["verify-auth", s, gpp, pres, now] => secret(s)?
            .verify_auth_credential_presentation_bytes(&hexarg(gpp)?, &hexarg(pres)?, num(now)?)
            .map(|()| "ok".to_string())
            .map_err(|e| e.to_string()),
        ["issue-endorsements", s, exp, cts] => {
            let params = secret(s)?;
            let kp = GroupSendDerivedKeyPair::for_expiration(num(exp)?, &params);
            let cts = cts.split(',').map(hexarg).collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&[u8]> = cts.iter().map(Vec::as_slice).collect();
            GroupSendEndorsementsResponse::issue_deterministic(&refs, &kp, &rnd.bytes())
                .map(hex::encode)
                .map_err(|e| e.to_string())
        }
        ["verify-token", s, token, now, sids] => {
            let params = secret(s)?;
            let token =
                GroupSendFullToken::deserialize(&hexarg(token)?).map_err(|e| e.to_string())?;
            let kp = GroupSendDerivedKeyPair::for_expiration(token.expiration(), &params);
            let sids = sids
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|x| ServiceId::from_str(x).map_err(|e| format!("bad service id {x}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            token
                .verify(&sids, num(now)?, &kp)
                .map(|()| "ok".to_string())
                .map_err(|e| e.to_string())
        }
        ["issue-profile", s, req, aci, commitment, exp] => secret(s)?
            .issue_expiring_profile_key_credential_deterministic(
                &rnd.bytes(),
                &hexarg(req)?,
                Aci::from_uuid(uuid(aci)?),
                &hexarg(commitment)?,
                num(exp)?,
            )
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["verify-profile", s, gpp, pres, now] => secret(s)?
            .verify_profile_key_credential_presentation_bytes(
                &hexarg(gpp)?,
                &hexarg(pres)?,
                num(now)?,
            )
            .map(|()| "ok".to_string())
            .map_err(|e| e.to_string()),
        ["username-hash", username] => username_hash(username)
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["username-proof", username] => Username::parse(username)
            .map_err(|e| e.to_string())?
            .proof_deterministic(&rnd.bytes())
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["verify-username", proof, hash] => verify_username_proof(&hexarg(proof)?, &hexarg(hash)?)
            .map(|()| "ok".to_string())
            .map_err(|e| e.to_string()),
        _ => Err("usage: see the header of examples/zkcli.rs".to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
