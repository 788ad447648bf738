//! Command-line access to the zkgroup server operations, for interop tests against libsignal.
//!
//! All binary values are hex on the command line and on stdout. Times are epoch seconds.
//! Service ids are libsignal service-id strings (`<uuid>` for an ACI, `PNI:<uuid>` for a PNI).
//!
//! ```text
//! zkcli gen-params                                   -> secret params
//! zkcli gen-params-seed <randomness32>               -> secret params (deterministic)
//! zkcli public-params <secret>                       -> public params
//! zkcli sign <secret> <message>                      -> 64-byte signature
//! zkcli issue-auth <secret> <aci-uuid> <pni-uuid> <redemption>   -> AuthCredentialWithPniResponse
//! zkcli verify-auth <secret> <group-public> <presentation> <now> -> "ok" (exit 0) / error (exit 1)
//! zkcli issue-endorsements <secret> <expiration> <ct>[,<ct>...]  -> GroupSendEndorsementsResponse
//! zkcli verify-token <secret> <full-token> <now> <sid>[,<sid>...] -> "ok" / error
//! zkcli issue-profile <secret> <request> <aci-uuid> <commitment> <expiration> -> response
//! ```

use std::process::ExitCode;
use std::str::FromStr;

use heliograph_types::{Aci, Pni, ServiceId};
use heliograph_zk::endorsements::{
    GroupSendDerivedKeyPair, GroupSendEndorsementsResponse, GroupSendFullToken,
};
use heliograph_zk::ServerSecretParams;
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

fn run(args: &[String]) -> CliResult {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["gen-params"] => Ok(hex::encode(ServerSecretParams::generate(&mut OsRng).serialize())),
        ["gen-params-seed", seed] => {
            let seed: [u8; 32] = hexarg(seed)?
                .try_into()
                .map_err(|_| "seed must be 32 bytes".to_string())?;
            Ok(hex::encode(
                ServerSecretParams::generate_deterministic(&seed).serialize(),
            ))
        }
        ["public-params", s] => Ok(hex::encode(secret(s)?.get_public_params().serialize())),
        ["sign", s, msg] => secret(s)?
            .sign(&mut OsRng, &hexarg(msg)?)
            .map(hex::encode)
            .map_err(|e| e.to_string()),
        ["issue-auth", s, aci, pni, t] => secret(s)?
            .issue_auth_credential_with_pni_zkc(
                &mut OsRng,
                Aci::from_uuid(uuid(aci)?),
                Pni::from_uuid(uuid(pni)?),
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
            let cts = cts
                .split(',')
                .map(hexarg)
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&[u8]> = cts.iter().map(Vec::as_slice).collect();
            GroupSendEndorsementsResponse::issue(&refs, &kp, &mut OsRng)
                .map(hex::encode)
                .map_err(|e| e.to_string())
        }
        ["verify-token", s, token, now, sids] => {
            let params = secret(s)?;
            let token = GroupSendFullToken::deserialize(&hexarg(token)?).map_err(|e| e.to_string())?;
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
            .issue_expiring_profile_key_credential(
                &mut OsRng,
                &hexarg(req)?,
                Aci::from_uuid(uuid(aci)?),
                &hexarg(commitment)?,
                num(exp)?,
            )
            .map(hex::encode)
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
