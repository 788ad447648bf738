//! Public generator points ("system parameters") of the three zkgroup layers, derived from their
//! published SHO labels: legacy zkgroup credentials, zkcredential credentials and UID encryption.

#![allow(non_snake_case)]

use std::sync::OnceLock;

use curve25519_dalek::ristretto::RistrettoPoint;

use crate::sho::{Sho, ShoHmacSha256, ShoSha256};

/// Generators of the legacy (2020) zkgroup credentials.
pub(crate) struct LegacySystem {
    pub(crate) G_w: RistrettoPoint,
    pub(crate) G_wprime: RistrettoPoint,
    pub(crate) G_x0: RistrettoPoint,
    pub(crate) G_x1: RistrettoPoint,
    /// `G_y1..G_y6` at indices 0..6.
    pub(crate) G_y: [RistrettoPoint; 6],
    /// `G_m1..G_m5` at indices 0..5.
    pub(crate) G_m: [RistrettoPoint; 5],
    pub(crate) G_V: RistrettoPoint,
    #[allow(dead_code)]
    pub(crate) G_z: RistrettoPoint,
}

/// Generators of zkcredential's credentials.
pub(crate) struct GenericSystem {
    pub(crate) G_w: RistrettoPoint,
    pub(crate) G_wprime: RistrettoPoint,
    pub(crate) G_x0: RistrettoPoint,
    pub(crate) G_x1: RistrettoPoint,
    pub(crate) G_V: RistrettoPoint,
    #[allow(dead_code)]
    pub(crate) G_z: RistrettoPoint,
    pub(crate) G_y: [RistrettoPoint; 7],
}

/// Generators of UID encryption (`G_a1`, `G_a2`).
pub(crate) struct UidSystem {
    pub(crate) G_a1: RistrettoPoint,
    pub(crate) G_a2: RistrettoPoint,
}

/// Generators of profile key encryption (`G_b1`, `G_b2`).
pub(crate) struct ProfileKeyEncSystem {
    pub(crate) G_b1: RistrettoPoint,
    pub(crate) G_b2: RistrettoPoint,
}

pub(crate) fn profile_key_enc() -> &'static ProfileKeyEncSystem {
    static CELL: OnceLock<ProfileKeyEncSystem> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKGroup_20200424_Constant_ProfileKeyEncryption_SystemParams_Generate",
            b"",
        );
        let G_b1 = sho.get_point();
        let G_b2 = sho.get_point();
        ProfileKeyEncSystem { G_b1, G_b2 }
    })
}

pub(crate) fn legacy() -> &'static LegacySystem {
    static CELL: OnceLock<LegacySystem> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKGroup_20200424_Constant_Credentials_SystemParams_Generate",
            b"",
        );
        let G_w = sho.get_point();
        let G_wprime = sho.get_point();
        let G_x0 = sho.get_point();
        let G_x1 = sho.get_point();
        let y1to4: [RistrettoPoint; 4] = std::array::from_fn(|_| sho.get_point());
        let m1to4: [RistrettoPoint; 4] = std::array::from_fn(|_| sho.get_point());
        let G_V = sho.get_point();
        let G_z = sho.get_point();
        let G_y5 = sho.get_point();
        let G_y6 = sho.get_point();
        let G_m5 = sho.get_point();
        LegacySystem {
            G_w,
            G_wprime,
            G_x0,
            G_x1,
            G_y: [y1to4[0], y1to4[1], y1to4[2], y1to4[3], G_y5, G_y6],
            G_m: [m1to4[0], m1to4[1], m1to4[2], m1to4[3], G_m5],
            G_V,
            G_z,
        }
    })
}

pub(crate) fn generic() -> &'static GenericSystem {
    static CELL: OnceLock<GenericSystem> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut sho = ShoSha256::new(b"Signal_ZKCredential_ConstantSystemParams_generate_20230410");
        let G_w = sho.get_point();
        let G_wprime = sho.get_point();
        let G_x0 = sho.get_point();
        let G_x1 = sho.get_point();
        let G_V = sho.get_point();
        let G_z = sho.get_point();
        let G_y = std::array::from_fn(|_| sho.get_point());
        GenericSystem {
            G_w,
            G_wprime,
            G_x0,
            G_x1,
            G_V,
            G_z,
            G_y,
        }
    })
}

pub(crate) fn uid() -> &'static UidSystem {
    static CELL: OnceLock<UidSystem> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut sho = ShoHmacSha256::with_data(
            b"Signal_ZKGroup_20200424_Constant_UidEncryption_SystemParams_Generate",
            b"",
        );
        let G_a1 = sho.get_point();
        let G_a2 = sho.get_point();
        UidSystem { G_a1, G_a2 }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hardcoded constants published by libsignal (zkgroup crypto::credentials and
    // crypto::uid_encryption); our derivations must reproduce them.
    const LEGACY_HEX: &str = "9ae7c8e5ed779b114ae7708aa2f794670adda324987b659913122c35505b105e6ca31025d2d76be7fd34944f98f7fa0e37babb2c8b98bbbdbd3dd1bf130cca2c8a9a3bdfaaa2b6b322d46b93eca7b0d51c86a3c839e11466358258a6c10c577fc2bffd34cd99164c9a6cd29fab55d91ff9269322ec3458603cc96a0d47f704058288f62ee0acedb8aa23242121d98965a9bb2991250c11758095ece0fd2b33285286fe1fcb056103b6081744b975f550d08521568dd3d8618f25c140375a0f4024c3aa23bdfffb27fbd982208d3ecd1fd3bcb7ac0c3a14b109804fc748d7fa456cffb4934f980b6e09a248a60f44a6150ae6c13d7e3c06261d7e4eed37f39f60b04dd9d607fd357012274d3c63dbb38e7378599c9e97dfbb28842694891d5f0ddc729919b798b4131503408cc57a9c532f4427632c88f54cea53861a5bc44c61cc6037dc31c2e8d4474fb519587a448693182ad9d6d86b535957858f547b9340127da75f8074caee944ac36c0ac662d38c9b3ccce03a093fcd9644047398b86b6e83372ff14fb8bb0dea65531252ac70d58a4a0810d682a0e709c9227b30ef6c8e17c5915d527221bb00da8175cd6489aa8aa492a500f9abee5690b9dfca8855dc0bd02a7f277add240f639ac16801e81574afb4683edff63b9a01e93dbd867a04b616c706c80c756c11a3016bbfb60977f4648b5f2395a4b428b7211940813e3afde2b87aa9c2c37bf716e2578f95656df12c2fb6f5d0631f6f71e2c3193f6d";
    const UID_HEX: &str = "a6324c368df734691147981348b6e7eb42c3307e711b6c7eccd3032d45693f5a048013525b76124bf2640c5e9369c76efbe80aba2a24aa5d8e18a98eba14f837";

    fn enc(points: &[RistrettoPoint]) -> String {
        points
            .iter()
            .map(|p| hex::encode(p.compress().as_bytes()))
            .collect()
    }

    #[test]
    fn legacy_params_match() {
        let s = legacy();
        let mut all = vec![s.G_w, s.G_wprime, s.G_x0, s.G_x1];
        all.extend_from_slice(&s.G_y);
        all.extend_from_slice(&s.G_m);
        all.push(s.G_V);
        all.push(s.G_z);
        assert_eq!(enc(&all), LEGACY_HEX);
    }

    #[test]
    fn profile_key_enc_params_match() {
        let s = profile_key_enc();
        assert_eq!(
            enc(&[s.G_b1, s.G_b2]),
            "f6baa317ce1839c93d617e0cd837d19da9c8a4c520bf7c51b1e6c2cb2a049c61\
             2e0175894c8730b203ab3bd98ecb2d81abacb65f8a6124f49771d14a9852120c"
        );
    }

    #[test]
    fn uid_params_match() {
        let s = uid();
        assert_eq!(enc(&[s.G_a1, s.G_a2]), UID_HEX);
    }
}
