// runs on: node
/**
 * A proof-of-stake chain on the deterministic SimNetwork: four `ConsensusNode`s (Tendermint, each
 * with its own ledger) commit blocks of transfers and a staking transaction; validator 3 double
 * votes, its evidence goes into a block, it is slashed (the stake burned) and jailed, and from two
 * heights later it is no longer in the validator set. Alice stakes 300 and becomes a validator
 * that runs no node: under a third of the power, so the chain goes on (stake more and it halts).
 * Every node ends with the same state root.
 * The same seed always prints the same story. For the same over TCP processes:
 * `npx chaindb cluster --nodes 4 --consensus pos --blocks 12 --json --byzantine 3`.
 *
 *   npx tsx examples/proof-of-stake-chain.ts [seed]
 */
import {
  BURN_ADDRESS,
  ConsensusNode,
  SimNetwork,
  byzantine,
  keyPairFromSeed,
  signStakingTx,
  signTransfer,
  toHex,
} from "chaindb";

const seed = Number(process.argv[2] ?? 7);
const CHAIN = 42;
const validators = Array.from({ length: 4 }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
const alice = keyPairFromSeed(new Uint8Array(32).fill(99));
const net = new SimNetwork({ seed });
const short = (key: Uint8Array) => toHex(key).slice(0, 8);
/** State root of height 8 on each node. */
const rootsAt8 = new Set<string>();

const nodes = await Promise.all(
  validators.map((key, i) => {
    const sim = net.addNode(`v${i}`);
    return ConsensusNode.open({
      chainId: CHAIN,
      genesis: {
        accounts: [...validators, alice].map((k) => ({ address: k.publicKey, balance: 1_000_000n })),
        validators: validators.map((k) => ({ address: k.publicKey, stake: 1000n })),
        selection: { mode: "pos", unbondingHeights: 5, slashPpm: 100_000 },
      },
      key,
      transport: sim.transport,
      clock: sim.clock,
      newHeightDelayMs: 20,
      tickMs: 100,
      ...(i === 3 ? { behavior: byzantine("double-vote", { variant: (v) => v, corrupt: (v) => v }) } : {}),
      onCommit: (b) => {
        if (b.height === 8) rootsAt8.add(toHex(b.root));
        if (i !== 0) return;
        const slashed = b.slashed.map(short).join(", ");
        console.log(
          `height ${b.height}: ${b.txs} txs, root ${toHex(b.root).slice(0, 12)}${slashed ? `, slashed ${slashed}` : ""}`,
        );
      },
    });
  }),
);

const bob = validators[0]!.publicKey;
for (let nonce = 0; nonce < 3; nonce++)
  nodes[0]!.submit(signTransfer(alice, { chainId: CHAIN, to: bob, amount: 100, fee: 1, nonce }));
nodes[1]!.submit(signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: 300, fee: 1, nonce: 3 }));

const offender = validators[3]!.publicKey;
const done = await net.runUntil(
  () => nodes.every((n) => n.height >= 8 && n.selectionState.bondOf(offender).jailed),
  120_000,
);
if (!done) throw new Error(`no slashing by height ${nodes[0]!.height}`);
const node = nodes[0]!;
console.log(
  `validator ${short(offender)}: bonded ${node.selectionState.bondOf(offender).bonded} of 1000, jailed; burned ${node.accounts.account(BURN_ADDRESS)?.balance ?? 0n}`,
);
console.log(
  `set at height ${node.height + 1}: ${node
    .validatorsAt(node.height + 1)
    .validators.map((v) => `${short(v.address)}:${v.power}`)
    .join(" ")}`,
);
console.log(
  `alice bonded ${node.selectionState.bondOf(alice.publicKey).bonded}; state roots of height 8 agree: ${rootsAt8.size === 1 ? "yes" : "NO"}`,
);
if (rootsAt8.size !== 1) process.exitCode = 1;
for (const n of nodes) await n.close();
