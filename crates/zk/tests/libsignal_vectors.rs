//! Byte-exact vectors produced by libsignal (`@signalapp/libsignal-client` 0.103.0, the
//! `...WithRandom` entry points) with fixed inputs: server params from randomness
//! `0..32`, operation randomness `200..232`, ACI uuid bytes `0..16`, PNI uuid bytes `100..116`,
//! group master key `100..132`, redemption time day 123456. Our deterministic functions must
//! reproduce libsignal's output exactly, and our verifiers must accept libsignal's artifacts.

use heliograph_types::{Aci, Pni, ServiceId};
use heliograph_zk::auth::AuthCredentialPresentation;
use heliograph_zk::endorsements::{
    GroupSendDerivedKeyPair, GroupSendEndorsementsResponse, GroupSendFullToken,
};
use heliograph_zk::{
    GroupPublicParams, ServerPublicParams, ServerSecretParams, ZkError, SECONDS_PER_DAY,
};

fn arr<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start + i as u8)
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn aci() -> Aci {
    Aci::from_uuid(uuid::Uuid::from_bytes(arr(0)))
}

fn pni() -> Pni {
    Pni::from_uuid(uuid::Uuid::from_bytes(arr(100)))
}

const REDEMPTION: u64 = 123_456 * SECONDS_PER_DAY;

const SECRET_PARAMS: &str = "\
    001c3e7cc7e0e94e42a28b6bfc9c48c22215f903ba8db7e9114aed001954103000172346a097b160403a4aec5cf42ab5\
    8ccf00dcd2bc380e05acb43e1a04c9a30504c58e08b7300ac51a5fc50c0eb999b137cc3c1454482fb633cc2af5b27280\
    7cb8a28f55f2d6657f10ce2d31f69ad1e55fdfce17112596f6ee9060612ad6850083e353c194288879a5008c3e49b529\
    0ad7d0678ef5a85b427f7cbf44f7adc7017367430b6661ddf8111c3f74bc510602b9cc9ca16ba259d34ce05b2968300a\
    00401e089ce9f022baf83faded65a4da55a567c5e14386a01c4c2c6a35b663a603c18365d381f9906c7d5b1b88524722\
    a8eaa7bad2ce7cbbdb549a859d700a2e0479c9db9d65016d6c7943f29927d50f172e0656297072845cee1c90a7a96616\
    0e2c6c2ce268cd682650212f0b6207234b6ab87994d53a134b69ff30564748c42f04b24006437c6c5dd4d6698c7c2f6c\
    4b115efd11457e558854f898129b167948bef4a16d1c2ce05b151ccf4a1a2a54a9cd618ff5d231240663ecee35ae8bbc\
    0a8ced7b3508882c541bf8023b4656f7efd206d1b12cb426d4e6412e2fdf4fa20caa7e3b4c21699b2390af5eaf5dac84\
    daf832fa86c3f41953fe2525814d26147c178804f369152da8fee0d9db2f2f78105326ab0918c1b318523380bdd9d014\
    03481a9b90b0b6d35c4e5014ecdd021c44a5f5d3f295023975aea610fb7e595006ffc0cea04c6ebcf521d1e6195d9c0c\
    6f5c960c7a219277afc4ae431c6361780c46849e0931264f1e14cc0f3e0ed7d537a520d50174e58dece9f28f9d91ccbc\
    0282b987fc11f787713456fc91aa8ba1691a8ca03d41c0c7345647494ef0be15092b2c60ea002209b12eee270f98a00c\
    d96352a5eb2762b4ccb086eae177b45c05904c61bd301f66430526f3b0da96e92369c6e00febd095828e3e8e8281b7a4\
    2cd6890d8b25a2935b4fd811c123327aa7ba6edc6f90016576c10ca093b431c3250fc7b686fedf54b72b904a0cc70b0a\
    d41643ecf301471d6bfe8899c876c5de082ea6a26de65a111a0ffb88ed51cb1b4d68ad33e4f8d43ef160b5da11302b07\
    51d847b1942e48c13e694b239320eacbf45c9174d206a5d7966671d892e83924000068e9ed26ce5497dda11891ae71f5\
    2cbd17cf790d7d0143eafc5ba251d3c90eaa6d5492431c3ced87724d3d5ed044062f0f52df72b103b10692db53ff734e\
    2a6f638a3aae427a96342e75e5650f094f79ab1e346d185e72f95918f917a11109b8083342a53bc10016454d55528447\
    f417a2bc7bfba6ce8e012800de4e829d0a2a653f6bb22f61235c4884fd71d30195f95d46b255e612a0cd94f87a0583e6\
    0757bcb3a77f1ae09e9be01d84c4d17c4fa63bf023f5d5bb54a4d07b622d0e3601f827bb90de2d89f23eb17c49c2deb0\
    d14be01aac48dec59a4d60070cbd6b170c3c9658f7db91469cb09208b396550d465ff0bae97b17c3b133b196505bfc7f\
    045c3c20fb291b50c57714fc3ef13d03ab440d5b972b0baea6ea3021bf019a2d48b81db01cd8fd71bb284fdb9fb570e8\
    8fd3d21d07fc31fbeaa243246d99f4a14344ae8b4d00240d7bdae16079629d6e1290993be97a23f034ee837eece8c1a0\
    030779bca33168cfe1665fa9a4a1401a1e5c735e9583f7f3e73de8b2ff6369670a98d61a5f8825835e71dd8e88e1fcac\
    9b2b0f8b5347f2f9ad5754e68ebd476272dbff5895a6da9e594185601ba8412a64c05cba8aba6af0552d262dc9b5de49\
    056bb66327c7aaad1b78926b99364acca6d9af62bfd9ec58296dbac6bf9e1adb0e3519ab8b4da32ff6e4f93af19a41b6\
    8c65cd770fb5148dc0c6fc19409da28d0f0e8dd14864b6feea3bfce4f6d21cf2832fb2d6dafd6db39d92eeb8ea08638c\
    0d00a9555dd95a9153ba738666f996219e4963f7dad7c056ab4c1ab955ca10fa00c2ef254d711d1f4ed583da262df218\
    7bb7dfd141d7f5536dfc898237f957970f11b1843ecfadb9d1a3fb4376321356348112f7b12da63804bd2ae9e032a858\
    05c1a46a64557c303830757b68cf9331bbeefaa083484dc0bfe50a42b323bd8607e20b6d4e9be867972d254166f58394\
    cd65ffcc77dcc149e620d49a70307ab3740cd5744959637390167be118f3159a71699392f0d14e7ef977c1f85b969aba\
    6288fd511e728f4bbc8e891ae450573c7cba56ec57cceb0d2c5e3de36488ac9003b5150e0d1be1fda18b90623eff7ec7\
    3e6124d3ca1b035d00dacf22c05e79ad0a928691115e55e674ec2eb9ca912c57c035250deae7063b9cde655639231bba\
    72723cbac1b9d85d1373ca37c148d704087c973232c70868ae40ea634e409f46002fa8e996568ac0fc51cea5d5aa024f\
    0123e667af114353683624aef9cfe4ce0cf6cdfa8a8b4a75fbd78cd2e67d29694d14f237256c3b9ab7e749e93d4d1442\
    007760950153d22146332bab041f9e2a1d1384388bf4c3f8821a02b9f78a14310d1bcdec25b6381c406cadb698bb3edc\
    5564c3744464a13c54e17fdb78c9678702eac989ee50e07c9660e867447e30ed8a813ad3f982ae3dfaa36f18a29c13b2\
    0f75ba49d751b9643c2d929083f0d15e460842ae48a1a3bea9c241c15c6215260282e1e286da282dd29eebf6ded6fc40\
    c70bad2a6be14c9d20140e357c52e7d469c2634a0ade057b520dabbc6c9f378dbcc1f5fd42b2ad295db0c8585484af6c\
    48dfb030bcd31cd460e287aea40c7e162ef928fb51118ec5cb2907547855453f0e5937ae9f84488774d581bc481b5bd6\
    8a782f1ea1eb39d84126aa516ba1797e0e6a67e4f90a679ce391a939263098746c927efdf1e8860714cc9b89b6db604f\
    120bf8fb73efacbf83e3e5e66370ab1f41ab8080b3d5fd54c9827441fcc900d90443cd399223e7da4d52195a4c08bc2f\
    2f40c07c2b258b0ff4d057cf27b527120adea7faa232edde88d175c4f16c3a2ac2ef0c7e1267e787870325a0d0bf5f5f\
    08be23908c947e82169de25a8dfea4e1779f24d2a516cec1c0ef7b8da885b1bc039f85ceceb12c555bf0e0bb48f21325\
    91df353bc7b19c7335607d10b92115fc081fe5ea62f4cc17da7f67d3478dd6ae4c35f04eb05640ddd78f539a663f6892\
    0603c159123339d75a04c563f49936230eab753abd9f0fb331db78f0ff8d2a6c00144e000f6388ed826d74dd7f643779\
    a73909a5853c61e67b9cecc66488f6be0b20683a3c5572cd7eae0aa897dfc831802636913181cb5991bc0fdb5b2f9849\
    67aa7bdfd03f154d3cb5189107cf29edb931f748c086507c74cb1599909ecc500f2dbd70d0ff156c3be46f4d80b68a47\
    3f54c9be1bcd90baea44c903618a82b3081c2d8394564d9175fea7556d1b008dfed6b4095c4de360ab0b1bb7ab486d5f\
    46ca6dd9767d95c87dabb1c5f8579a4ee898eb1619beb0cc71869b4d9108da070f7b96046cddf0082f99cff6c1d061e3\
    1611eb86ded6ca009ab13f9c1ebbf72409175daa8db125d9eec0364a85b6f074df4bd701be6eee4db31bab140cb6d46d\
    0ef65774d9bb5e37cfc131926e1284df458f3f546d6813678a5d99331605ba7e017492f0782b68ee9c1bdcb1e97a666e\
    951ee96dc010f78d2d1ac818839869ab0ba9c23421feb55e54a989113239523978f2fb9a1eaba121e210834372c47593\
    0249c666daf197adc47d6d2d119b3860bcd015c25fe595f51090e04310a9a5bc041b55e3edb0904fd70c486152f4d4fd\
    bc2e25c38c8f1bb9f9ed668d2755afa50ca44360358d4dbf168cd8ec6ad99fd8cdc09e69c9d06a231c008ff561388a83\
    030c55f3c60057d2a96dab6b4d644238c4bbe53d0d6ca9f04b93310572abf3dd04";
const PUBLIC_PARAMS: &str = "\
    002c6c2ce268cd682650212f0b6207234b6ab87994d53a134b69ff30564748c42f04b24006437c6c5dd4d6698c7c2f6c\
    4b115efd11457e558854f898129b167948904c61bd301f66430526f3b0da96e92369c6e00febd095828e3e8e8281b7a4\
    2cd6890d8b25a2935b4fd811c123327aa7ba6edc6f90016576c10ca093b431c3252ea6a26de65a111a0ffb88ed51cb1b\
    4d68ad33e4f8d43ef160b5da11302b07515c3c20fb291b50c57714fc3ef13d03ab440d5b972b0baea6ea3021bf019a2d\
    48b81db01cd8fd71bb284fdb9fb570e88fd3d21d07fc31fbeaa243246d99f4a143e20b6d4e9be867972d254166f58394\
    cd65ffcc77dcc149e620d49a70307ab3740cd5744959637390167be118f3159a71699392f0d14e7ef977c1f85b969aba\
    6282e1e286da282dd29eebf6ded6fc40c70bad2a6be14c9d20140e357c52e7d469c2634a0ade057b520dabbc6c9f378d\
    bcc1f5fd42b2ad295db0c8585484af6c48144e000f6388ed826d74dd7f643779a73909a5853c61e67b9cecc66488f6be\
    0b20683a3c5572cd7eae0aa897dfc831802636913181cb5991bc0fdb5b2f984967903c77d37f4c00b9f4cb4ceb640a90\
    5a543d8b2638be0230c56e9a9f2021cb143c63eab44db246d12c7e701e511929d948414b0738674917d5134ef588cdde\
    7b88d3e7634e2d0dfd51632506ddc64dcc2060dc153623335d1e41b592e2aede5e9c02ac74af5af11cd8bcb2b23b1083\
    e263ae0e4966df0583441ab45bb3325017aa551be67ea65848d4a4a2ce1bcae81ebf8a4a5411e117110ba87fba346880\
    2f3a9ec3816429f0727f411cd99a59f26c7f1b70551a644237be82b907ee378c35bee2c295eca804aa1c4a5bca7bc6cd\
    fbc5625639bea849f865af554694dcb94032232e96f23925fefbad358bdb82435f3925d2ea35735d77a26fe11508dcab\
    55";
const AUTH_RESPONSE: &str = "\
    03a47910dac776ba504558d00bf3cd5ee261024d89990eaa873a69c9d3dcd3fa078e863a76332ec2f3090906088b877e\
    21c4f85454af6814274c2edccdd3b27a4cf60c599c5530615990cc664fa8dd286a590e2876a5136e06fac75b8b2ce65c\
    454001000000000000403ab731e1c04751d750dea9332914874c0ffdb788ffd2d59bc6b96afe04e604ab80e678615646\
    39342deae8842072f4d08a7ef2cd222d62156ef4072aa814036ec2f4addc8763380c26dc2e0fcaf73beb16997f1d4ef9\
    d4ce3ba4f34e5ca00cbfc887f01109a900a6f051522cc04e8d4f82b38cce0a6fbb137f23ca795bed0a3deac26ac5891b\
    321be84d3b056fddca2967cc7552577a6c8ed96c7415b3a601f0992ca2db99fe7953c25e5e3066ccf0126378693ae8c9\
    881b6dde4734e79e09ac7b875310c54cdacf2df1f2b01a7510e425bcbb1cbd707dfdba871f408ef20582019372cb13e0\
    97bb7aadc85a8cfc68e9ca9be131408bbcb5c5649ea1000b0c84801dcd676aee34dd81affd88611d77853285d28cb4b8\
    39431aa3689cfb820b7c3421c3dd3c1e43ae0d822de527a908f19458d4f844b62a723a6c4397a2b701";
const AUTH_PRESENTATION: &str = "\
    036c877997a41bde21c550128f53ee2928e6ffc0f90c0c5fa94b96daa7e1b4ca585648e8cade77054c391e9de7402dac\
    a5d2b2be0cbf5110db563bf64dd81a1e01be0f0d33e70c53bd03c53a0b70198faa508c71661f3bc24e59c3824646b135\
    2b0500000000000000ae345b0dc1741710d32b4cb2ebd17c82aa033c1310aaa1beec29d9f6a6f9c63e0e6288c6644d76\
    edb98fb195b4dad309aa1f3df77f42a9ad66a31f3b4efd7c5a2e1b5ff75e5b93b767732c67e0a03b0a6147483443e6e1\
    97ec74ae98b9b65b3b743a4b8de4f77fa69ff1adcae60be77d087a901a0872ee58a57316e3180bab16fa5771926891a5\
    edcf3ad342999cbf28a3000ec4f2b176cccaf294478862aa1de000000000000000dff08ffc64493074c76ba61bf05e7c\
    8be32e3ebb266a2b6ffc26ea5588369c0eefe223ec40d9dd46a3d4485523fbe9d4dfc08312e42926ecbb5c343e03a526\
    09aa45c8285a9815f5761e5fa89d4267e717e87b475d861349e44f496088fa7c0ba2fd7926e98998eb7e3468cd013edb\
    c870509c3aa1632251df17cf377b9ea7002c2a095323fe23571c5431d9aeb67186f84aaaf799fd37492be33dc0123fe8\
    0b12982b995a058244a26c45299092911d2c8e88144083f15e4ed2f5c9dc9bcc09b27c963dd4156b07a260de85705a1e\
    50422db780c0edc35aa7facacde42c9a00765de9df4cfa5487f360e29e99343e91811baec331c4680985e608ca5d408e\
    21725c6aa1b61d5a8b48d75f4aaa9a3cbe88d3e0f1a54319081f77c72c8f525474de749a0fef17b06bbce74ca5d0f7a0\
    c45f443a1901f1e3e016d3548e50a2fa19ce6b27ac467ed9c9f5018b2a4456b6c2b1a91454422fdd473c9636a8459e1c\
    170060c77b02000000";
const AUTH_NO_PNI_RESPONSE: &str = "\
    03a47910dac776ba504558d00bf3cd5ee261024d89990eaa873a69c9d3dcd3fa078e863a76332ec2f3090906088b877e\
    21c4f85454af6814274c2edccdd3b27a4cfad9d6323d9c5a0ba6282c647f7499d503921ed40569248c5f86c744727c71\
    464001000000000000de821bc11f1a9b45b991fa5a5e2a3561154120aa2b058d3973dd798a1d944e0bfad0ee10621fe9\
    f2003f9284528ee1000c734e2bc956039852beddd4479f760045c3e698ce11737cbe66a9b657b996f1fd8b91f7055e41\
    cf82cecc2c911b2b0291ac2e2f98e8d4210705c65c1e253ac9f5d67f57baf9085ef617b735292765034137834ed00595\
    18873d66b0bfacf1ed10115580af275aac7aaab22df889a80ae26ea09b4eead05d2d21a6d0ba32a7d3d6a10f1516f9b6\
    2659a6ebdc31307e01a1fc2145a97df4016eef6fc81514f309643f195559eddf3f62a6894b15f8cf0d73a4efbf82cac7\
    8cf92261f60a3461e0051e203155cf825ecc7feb0aa1b28109bd878e6c29d4eeb0873ff776c640f1373d78b842cc61fc\
    7556d01cbbef5f4308568844c7fe044be75f06d6105047d7230a41c36a82655da162759a01f51fe409";
const GROUP_PUBLIC_PARAMS: &str = "\
    0084e256730548f8ba09069b223eccc133f599f9827edc7084f8921e4a70cd9e4cd8c075c601cb280cc4f2c9c52c075f\
    c5336c63fe27b935db3bcce18e01c90833ce1b7ad669a5db8b4addef7862f7ffbaab050226fd7cd776758a17fc95999c\
    56";
const MEMBER_CIPHERTEXTS_0: &str = "\
    00765de9df4cfa5487f360e29e99343e91811baec331c4680985e608ca5d408e21725c6aa1b61d5a8b48d75f4aaa9a3c\
    be88d3e0f1a54319081f77c72c8f525474";
const MEMBER_CIPHERTEXTS_1: &str = "\
    00de749a0fef17b06bbce74ca5d0f7a0c45f443a1901f1e3e016d3548e50a2fa19ce6b27ac467ed9c9f5018b2a4456b6\
    c2b1a91454422fdd473c9636a8459e1c17";
const MEMBER_CIPHERTEXTS_2: &str = "\
    00c4f068ad51341204a435424e6bd5183f6b9799c3939a325f26bb4c5b8e0c991dec47d7839d1ed7b7d33c5360b425ae\
    c9d9eed3724245b6a16430a782409d6629";
const DERIVED_KEY_PAIR: &str = "\
    00cf3b55e57f8ce66f5e80df004f6ea7cb028f02e47c7ff44661c2aa60ae2caa06e04cbb043f8a630a1c39c010617009\
    5571fd1fdd734bdb7582036b66672da7220003ca7b02000000";
const ENDORSEMENTS_RESPONSE: &str = "\
    000300000000000000dabf61ad442d8e88f441c1446c995bd017fecf1f23e1dd4e1c2e97558bab283cb023523ffdc2e6\
    047d302f3d79a9742740c0c4a9d75016e05eee1f3bdd7f815480075aa751349da941d1322ee874cd43053d67063cd27c\
    5a4699f944673a6c694000000000000000eef7a2190f40bbb8bca67dddf4f706aac39f3bbf660626a36f6f38d0bac501\
    088fec66ccfbb4173f972146fb486b183b6aa8c834584363f70ea0907b6a9b2a000003ca7b02000000";
const FULL_TOKEN_PNI_THIRD: &str = "\
    001000000000000000bc0ed4ee61524117f6c65ac90edddd110003ca7b02000000";
const PROFILE_REQUEST: &str = "\
    00823b75c8938f117b822ddf2df9cb0af26f46ab480d24d1af995593e162485642a8bc6ab000cb44614824c45b810c31\
    f1275c61ec7af385534d4032ccf0f63b6a90e01825f9dafd6ac14017f724692b302d439f616a46d6949839ebb4b3b4d4\
    53e89fc88967088d4e2a0ea75c1ca897540a4409c4eee795703c751565f95b242a72bc44173c657415c47be395234825\
    ecd142f98705537fde0cb21195f036b12da0000000000000007613e0ceb30bd6481f27dc3cdc7ad35de9c59b56a9a2e8\
    5a2be9e73869880605bbee6e6f79140555e486696244720c654b3afbb8769db8a238c77d926ee29504b4ff2f6d2e66a7\
    de3dae8ab7319aa1842e86cfafcfb6ead0fe6d72314a8cab07f0f77502dfbb7318e14fc833010afcf3ca461ffb58bf58\
    2dfbf03d2de1b64e0bcffbaf56379a35a8a12995c151dd667a9a85e22b6855e589684c5b5d29e2190c";
const PROFILE_COMMITMENT: &str = "\
    0016bad8eb92bcb62bcc7505640f7bb78f56a6f83cbaf03c150e83562a695f514dfa769963c9e7950484de0abc3a0853\
    45640648b9f0481e19c0a7cc1f62f2902f76f2b3990d69f537f1668fd85e077a15c7e6d51bc47d5374f2920b8d513763\
    0a";
const OTHER_PROFILE_COMMITMENT: &str = "\
    00fea374cb8f077594a8990c669763975ce848ed97d7b28f3732cd34c471b1df219cf2c621be547faf81b40004f1eed9\
    cd64895ca8b2dee7911307eb79134f9d302057d0e4db604cb26adecee759677c4f673b350badaef6f5b3919d9f2fe6c3\
    4e";
const PROFILE_RESPONSE: &str = "\
    00e867b738f03a710cbdad659ec20ff5e75662ddb91581d42f4868535d3e1cc8052265403d0ea2461b98f156cdf28417\
    5ad2f5b5b7233c84ab74806cb80dff923350be8498683fa9109a0903d342fbd7b2b23c3224dbf0440ad88cbbdce7a349\
    6f9ef8d85d82c70ae3fae350348431bbef30ba779c3309b5ba0669ac8f91df1e38809ad07b0200000060010000000000\
    00a2720c3dbd16500747de68f9acef24411d82224e06ad46f21ed8940c592f0f0099838ed607237fc3de9857b6302be3\
    a5e0446c3bba107fcad32fd7733fe5190935b74f4d52fb31186dc587085e979bd64a7a7ce7b6ba5563dc686d84d650e8\
    0cbfa13df53fe43539f799987150cc7c853870df77434e52259423d9652686130613749cde584234b21a581792daa4ed\
    9b886e081b3b38c4b0966b6262b059c802cb9a4d844f99c3dfffdfa2b6d09241057336287777836f39b9135b2877b310\
    0de776f3496a9f74437111d13febe04372551ecc0884090636ed2fc78f9557c50214212fd6dcf40dd0e6d8fc11e36a45\
    5e65b747d06dcef93fbb2c8547e7985b0ab889e85c9bc47883130be9c6ca69195827d18be6bc3a651a010f5583bd0417\
    0b18035594d61b317b869224612daff6313aa83d64d2f7d94ea841bd055142b70714ab7c40c74e90c304dbd123a0c5d6\
    ed543c664335dab0108a5d693e712fe702";
const SIGNATURE: &str = "\
    87d354564d35ef91edba851e0815612e864c227a0471d50c270698604406d003a55473f576cf241fc6b41c6b16e5e63b\
    333c02fe4a33858022fdd7a4ab367b06";

#[test]
fn secret_and_public_params() {
    let ours = ServerSecretParams::generate_deterministic(&arr(0));
    assert_eq!(hex::encode(ours.serialize()), SECRET_PARAMS);
    let loaded = ServerSecretParams::deserialize(&h(SECRET_PARAMS)).unwrap();
    assert_eq!(
        hex::encode(loaded.get_public_params().serialize()),
        PUBLIC_PARAMS
    );
    let public = ServerPublicParams::deserialize(&h(PUBLIC_PARAMS)).unwrap();
    assert_eq!(hex::encode(public.serialize()), PUBLIC_PARAMS);
}

#[test]
fn notary_signature() {
    let params = ServerSecretParams::deserialize(&h(SECRET_PARAMS)).unwrap();
    let msg: [u8; 32] = arr(100);
    let sig = params.sign_deterministic(&arr(200), &msg).unwrap();
    assert_eq!(hex::encode(sig), SIGNATURE);
    params
        .get_public_params()
        .verify_signature(&msg, &sig)
        .unwrap();
}

#[test]
fn auth_credential_response() {
    let params = ServerSecretParams::deserialize(&h(SECRET_PARAMS)).unwrap();
    let resp = params
        .issue_auth_credential_with_pni_zkc_deterministic(&arr(200), aci(), pni(), REDEMPTION)
        .unwrap();
    assert_eq!(hex::encode(resp), AUTH_RESPONSE);
    let resp = params
        .issue_auth_credential_zkc_without_pni_deterministic(
            &arr(200),
            aci(),
            &arr::<32>(50),
            REDEMPTION,
        )
        .unwrap();
    assert_eq!(hex::encode(resp), AUTH_NO_PNI_RESPONSE);
}

#[test]
fn auth_presentation_from_libsignal() {
    let params = ServerSecretParams::deserialize(&h(SECRET_PARAMS)).unwrap();
    let group = GroupPublicParams::deserialize(&h(GROUP_PUBLIC_PARAMS)).unwrap();
    assert_eq!(hex::encode(group.serialize()), GROUP_PUBLIC_PARAMS);
    let presentation = AuthCredentialPresentation::deserialize(&h(AUTH_PRESENTATION)).unwrap();
    assert_eq!(presentation.redemption_time(), REDEMPTION);
    // The presentation carries the group's encryption of the ACI: the member ciphertext.
    assert_eq!(
        hex::encode(presentation.aci_ciphertext()),
        MEMBER_CIPHERTEXTS_0
    );
    assert_eq!(
        hex::encode(presentation.pni_ciphertext()),
        MEMBER_CIPHERTEXTS_1
    );
    for now in [
        REDEMPTION - SECONDS_PER_DAY,
        REDEMPTION,
        REDEMPTION + 2 * SECONDS_PER_DAY,
    ] {
        params
            .verify_auth_credential_presentation(&group, &presentation, now)
            .unwrap();
    }
    for now in [
        REDEMPTION - SECONDS_PER_DAY - 1,
        REDEMPTION + 2 * SECONDS_PER_DAY + 1,
    ] {
        assert_eq!(
            params.verify_auth_credential_presentation(&group, &presentation, now),
            Err(ZkError::Verification)
        );
    }
    let other = ServerSecretParams::generate_deterministic(&arr(1));
    assert!(other
        .verify_auth_credential_presentation(&group, &presentation, REDEMPTION)
        .is_err());
}

#[test]
fn endorsements_and_token() {
    let params = ServerSecretParams::deserialize(&h(SECRET_PARAMS)).unwrap();
    let expiration = REDEMPTION + 2 * SECONDS_PER_DAY;
    let kp = GroupSendDerivedKeyPair::for_expiration(expiration, &params);
    assert_eq!(hex::encode(kp.serialize()), DERIVED_KEY_PAIR);
    let again = GroupSendDerivedKeyPair::deserialize(&h(DERIVED_KEY_PAIR)).unwrap();
    assert_eq!(again.serialize(), kp.serialize());

    let cts = [
        h(MEMBER_CIPHERTEXTS_0),
        h(MEMBER_CIPHERTEXTS_1),
        h(MEMBER_CIPHERTEXTS_2),
    ];
    let refs: Vec<&[u8]> = cts.iter().map(Vec::as_slice).collect();
    let resp = GroupSendEndorsementsResponse::issue_deterministic(&refs, &kp, &arr(200)).unwrap();
    assert_eq!(hex::encode(resp), ENDORSEMENTS_RESPONSE);

    // libsignal's client combined the endorsements of everyone but the local ACI.
    let token = GroupSendFullToken::deserialize(&h(FULL_TOKEN_PNI_THIRD)).unwrap();
    assert_eq!(token.expiration(), expiration);
    assert_eq!(hex::encode(token.serialize()), FULL_TOKEN_PNI_THIRD);
    let third = ServiceId::Aci(Aci::from_uuid(uuid::Uuid::from_bytes(arr(1))));
    let now = REDEMPTION + 3600;
    token
        .verify(&[ServiceId::Pni(pni()), third], now, &kp)
        .unwrap();
    token
        .verify(&[third, ServiceId::Pni(pni())], now, &kp)
        .unwrap();
    assert_eq!(token.verify(&[third], now, &kp), Err(ZkError::Verification));
    assert_eq!(
        token.verify(
            &[ServiceId::Aci(aci()), ServiceId::Pni(pni()), third],
            now,
            &kp
        ),
        Err(ZkError::Verification)
    );
    assert_eq!(
        token.verify(&[ServiceId::Pni(pni()), third], expiration + 1, &kp),
        Err(ZkError::Verification)
    );
    let other_day = GroupSendDerivedKeyPair::for_expiration(expiration + SECONDS_PER_DAY, &params);
    assert!(token
        .verify(&[ServiceId::Pni(pni()), third], now, &other_day)
        .is_err());
}

#[test]
fn expiring_profile_key_credential() {
    let params = ServerSecretParams::deserialize(&h(SECRET_PARAMS)).unwrap();
    let expiration = REDEMPTION + 7 * SECONDS_PER_DAY;
    let resp = params
        .issue_expiring_profile_key_credential_deterministic(
            &arr(200),
            &h(PROFILE_REQUEST),
            aci(),
            &h(PROFILE_COMMITMENT),
            expiration,
        )
        .unwrap();
    assert_eq!(hex::encode(resp), PROFILE_RESPONSE);
    // A request made with another profile key than the stored commitment: refused.
    assert_eq!(
        params.issue_expiring_profile_key_credential_deterministic(
            &arr(200),
            &h(PROFILE_REQUEST),
            aci(),
            &h(OTHER_PROFILE_COMMITMENT),
            expiration,
        ),
        Err(ZkError::Verification)
    );
    // Unaligned expiration: refused.
    assert!(params
        .issue_expiring_profile_key_credential_deterministic(
            &arr(200),
            &h(PROFILE_REQUEST),
            aci(),
            &h(PROFILE_COMMITMENT),
            expiration + 1,
        )
        .is_err());
}
