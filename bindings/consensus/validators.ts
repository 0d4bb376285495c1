/**
 * Validator sets with voting power, the paper's quorum thresholds expressed in power (more than
 * 2/3 of the total for `2f+1`, more than 1/3 for `f+1`), and CometBFT's proposer selection: a
 * weighted round-robin with priorities (spec/consensus/proposer-selection.md, types/validator_set.go
 * `IncrementProposerPriority`): before each run of elections the priorities are rescaled so their
 * spread stays within 2·total, then centred on 0; each election adds every validator's power to its
 * priority, picks the maximum (ties to the smaller address) and subtracts the total from it.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint, assert, toHex } from "../util/index.ts";
import { TOTAL_POWER_MAX } from "../selection/index.ts";

/** A validator: its 32-byte ed25519 public key (its address) and its voting power. */
export interface Validator {
  readonly address: Uint8Array;
  readonly power: number;
}

/** Largest total voting power: keeps priorities (within ±3·total) exact as plain numbers. */
export { TOTAL_POWER_MAX };
/** Most validators in a set. */
export const VALIDATORS_MAX = 1024;
/** CometBFT's PriorityWindowSizeFactor: the spread of priorities stays within 2·total. */
const PRIORITY_WINDOW_FACTOR = 2;

/** Byte-wise comparison (the address order CometBFT uses for ties). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** An immutable validator set, sorted by address; index = position in that order. */
export class ValidatorSet {
  /** Validators sorted by address. */
  readonly validators: readonly Validator[];
  /** Sum of all voting power. */
  readonly totalPower: number;
  private readonly byAddress: Map<string, number>;

  constructor(validators: readonly Validator[]) {
    aint(validators.length, 1, VALIDATORS_MAX, "validators.length");
    const sorted = validators.map((v) => ({
      address: abytes(v.address, 32, "address").slice(),
      power: aint(v.power, 1, TOTAL_POWER_MAX, "power"),
    }));
    sorted.sort((a, b) => compareBytes(a.address, b.address));
    this.byAddress = new Map();
    let total = 0;
    for (const [i, v] of sorted.entries()) {
      const key = toHex(v.address);
      if (this.byAddress.has(key))
        throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `validator ${key} appears twice`);
      this.byAddress.set(key, i);
      total += v.power;
    }
    if (total > TOTAL_POWER_MAX)
      throw new ChainDbError(ErrorCode.BAD_RANGE, `total voting power ${total} exceeds ${TOTAL_POWER_MAX}`);
    this.validators = sorted;
    this.totalPower = total;
  }

  /** Number of validators. */
  get size(): number {
    return this.validators.length;
  }

  /** Index of `address` in the set, or -1 for a non-validator. */
  indexOf(address: Uint8Array): number {
    return address.length === 32 ? (this.byAddress.get(toHex(address)) ?? -1) : -1;
  }

  /** Voting power of validator `index`. */
  power(index: number): number {
    return this.validators[index]!.power;
  }

  /** More than 2/3 of the total power (the paper's `2f+1`). */
  isQuorum(power: number): boolean {
    return power * 3 > this.totalPower * 2;
  }

  /** More than 1/3 of the total power (the paper's `f+1`: at least one correct validator). */
  isOneThird(power: number): boolean {
    return power * 3 > this.totalPower;
  }
}

/**
 * CometBFT's proposer priorities for one validator set. `advance(times)` runs `times` elections
 * (rescale and centre once, then add power / pick the max / subtract the total per election).
 */
export class ProposerPriorities {
  private constructor(
    readonly set: ValidatorSet,
    private readonly priority: number[],
    /** Index of the validator elected by the last election, -1 before the first. */
    readonly proposer: number,
  ) {}

  /** Fresh priorities (all zero, as for a genesis set); no election has run yet. */
  static initial(set: ValidatorSet): ProposerPriorities {
    return new ProposerPriorities(
      set,
      set.validators.map(() => 0),
      -1,
    );
  }

  /** Priorities carried over from elsewhere (e.g. a changed validator set), in set order. */
  static withPriorities(set: ValidatorSet, priorities: readonly number[]): ProposerPriorities {
    aint(priorities.length, set.size, set.size, "priorities.length");
    for (const x of priorities) aint(x, -8 * set.totalPower, 8 * set.totalPower, "priority");
    return new ProposerPriorities(set, priorities.slice(), -1);
  }

  /** Current priorities, in set order (for tests and inspection). */
  priorities(): readonly number[] {
    return this.priority.slice();
  }

  /** A copy advanced by `times` elections (≥ 1); the copy's `proposer` is the last one elected. */
  advance(times: number): ProposerPriorities {
    aint(times, 1, 1 << 30, "times");
    const p = this.prepared();
    let proposer = -1;
    for (let t = 0; t < times; t++) proposer = elect(this.set, p);
    for (const x of p) assert(Math.abs(x) <= 4 * this.set.totalPower, "priority out of its window");
    return new ProposerPriorities(this.set, p, proposer);
  }

  /**
   * A copy of the priorities rescaled and centred, as `advance` does once before its elections:
   * running k elections on it with {@link elect} gives `advance(k)`, one election at a time.
   */
  prepared(): number[] {
    const p = this.priority.slice();
    rescale(p, PRIORITY_WINDOW_FACTOR * this.set.totalPower);
    centre(p);
    return p;
  }
}

/** One election on `p` in place: add every power, pick the max (ties to the smaller address), subtract the total. */
function elect(set: ValidatorSet, p: number[]): number {
  for (let i = 0; i < p.length; i++) p[i]! += set.power(i);
  let proposer = 0;
  // Sorted by address, so a strict `>` leaves ties with the smaller address.
  for (let i = 1; i < p.length; i++) if (p[i]! > p[proposer]!) proposer = i;
  p[proposer]! -= set.totalPower;
  return proposer;
}

/** Divide all priorities by ceil(spread / window) when the spread exceeds the window (Go's truncating division). */
function rescale(p: number[], window: number): void {
  const spread = Math.max(...p) - Math.min(...p);
  if (spread <= window) return;
  const ratio = Math.ceil(spread / window);
  for (let i = 0; i < p.length; i++) p[i] = Math.trunc(p[i]! / ratio);
}

/** Subtract the (floored) average, as CometBFT's shiftByAvgProposerPriority does with big.Int division. */
function centre(p: number[]): void {
  let sum = 0;
  for (const x of p) sum += x;
  const avg = Math.floor(sum / p.length);
  for (let i = 0; i < p.length; i++) p[i]! -= avg;
}

/**
 * Who proposes at (height, round) for a fixed validator set, CometBFT's way: the set's priorities
 * advance one election per height (the state update after each block), and round r of a height
 * advances a copy of that height's priorities r more elections. Heights are cached (bounded), and
 * so are the rounds of each cached height: round r costs one O(n) election the first time any
 * round ≥ r is asked, O(1) after; callers bound the rounds they ask for (the engine asks only
 * within a window above its own round, so a message naming round 2^30 never gets here).
 */
export class ProposerSchedule {
  private readonly byHeight = new Map<number, HeightRounds>();
  private static readonly CACHE_MAX = 64;
  /** Elections run so far (each is O(n)): the cost counter tests assert on. */
  elections = 0;

  /** `firstHeight` is the height whose round-0 proposer is the set's first election. */
  constructor(
    readonly set: ValidatorSet,
    readonly firstHeight = 1,
  ) {}

  /** Index of the proposer for (height, round). */
  proposer(height: number, round: number): number {
    aint(round, 0, 2 ** 31 - 1, "round");
    const rounds = this.atHeight(height);
    if (round === 0) return rounds.base.proposer;
    while (rounds.proposers.length < round) {
      rounds.proposers.push(elect(this.set, rounds.scratch));
      this.elections++;
    }
    return rounds.proposers[round - 1]!;
  }

  private atHeight(height: number): HeightRounds {
    assert(
      height >= this.firstHeight,
      `height ${height} before the schedule's first height ${this.firstHeight}`,
    );
    const hit = this.byHeight.get(height);
    if (hit !== undefined) return hit;
    let best: ProposerPriorities | undefined;
    let from = this.firstHeight - 1;
    for (const [h, r] of this.byHeight) if (h <= height && h > from) ((best = r.base), (from = h));
    let p = best ?? ProposerPriorities.initial(this.set);
    // Elections are O(n) each; one per height, so walking forward is linear in the gap.
    for (let h = from + 1; h <= height; h++) ((p = p.advance(1)), this.elections++);
    if (this.byHeight.size >= ProposerSchedule.CACHE_MAX)
      this.byHeight.delete(this.byHeight.keys().next().value!);
    const rounds: HeightRounds = { base: p, scratch: p.prepared(), proposers: [] };
    this.byHeight.set(height, rounds);
    return rounds;
  }
}

/** A height's priorities, and the proposers of its rounds 1… computed so far (on a prepared copy). */
interface HeightRounds {
  readonly base: ProposerPriorities;
  readonly scratch: number[];
  readonly proposers: number[];
}
