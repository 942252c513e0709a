// Seals a file with drand's tlock-js for a round (ASCII-armored age, as timevault writes):
//   node lock.mjs RELAY CHAIN_HASH PUBLIC_KEY ROUND IN OUT
import { readFileSync, writeFileSync } from "node:fs";
import { timelockEncrypt, HttpChainClient, HttpCachingChain, Buffer } from "tlock-js";

const [relay, chainHash, publicKey, round, input, output] = process.argv.slice(2);
const options = {
  disableBeaconVerification: false,
  noCache: true,
  chainVerificationParams: { chainHash, publicKey },
};
const client = new HttpChainClient(new HttpCachingChain(`${relay}/${chainHash}`, options), options);
const sealed = await timelockEncrypt(Number(round), Buffer.from(readFileSync(input)), client);
writeFileSync(output, sealed);
