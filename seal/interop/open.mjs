// Opens a tlock age file with drand's tlock-js, as timevault.drand.love does:
//   node open.mjs RELAY CHAIN_HASH PUBLIC_KEY IN OUT
// The beacon comes from RELAY/CHAIN_HASH and is verified against the chain's key.
import { readFileSync, writeFileSync } from "node:fs";
import { timelockDecrypt, HttpChainClient, HttpCachingChain } from "tlock-js";

const [relay, chainHash, publicKey, input, output] = process.argv.slice(2);
const options = {
  disableBeaconVerification: false,
  noCache: true,
  chainVerificationParams: { chainHash, publicKey },
};
const client = new HttpChainClient(new HttpCachingChain(`${relay}/${chainHash}`, options), options);
// tlock-js logs the beacon on stdout; the plaintext goes to a file.
const plain = await timelockDecrypt(readFileSync(input).toString("binary"), client);
writeFileSync(output, plain);
