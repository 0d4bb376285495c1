/**
 * A trace recorder for seeded simulations: what the {@link SimNetwork} did (messages sent,
 * delivered, lost or dropped; partitions, heals, crashes, restarts), on its virtual clock, plus the
 * protocol steps and checker violations a simulation chooses to note. A trace is plain data (JSON
 * friendly); `renderTraceHtml` draws it as a space-time diagram in the manner of Lamport's
 * "Time, Clocks, and the Ordering of Events in a Distributed System" (1978), figure 1.
 *
 * Recording costs nothing when it is off: the network holds `undefined` and every hook is one
 * optional call (`this.trace?.send(...)`), so no label is built and nothing is stored.
 * @module
 */
import { aint } from "../util/index.ts";
import type { NodeId } from "./types.ts";

/** What became of a message: delivered, lost on the link, or dropped (unreachable at send or at arrival). */
export type MessageFate = "delivered" | "lost" | "dropped" | "in-flight";

/** One message, from its send to its fate. Times are virtual ms. */
export interface TraceMessage {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly sentAt: number;
  /** A short description of the payload (from the recorder's `describe`), e.g. "prevote h3 r0". */
  readonly label: string;
  /** Protocol height the payload belongs to, when `describe` knows it. */
  readonly height?: number;
  /** The node that signed or first sent the payload, when a relay forwards it. */
  readonly origin?: NodeId;
  /** What the payload is about when not a height, e.g. a 2PC transaction id. */
  readonly subject?: string;
  fate: MessageFate;
  /** Delivery (or drop) time; absent for lost messages, sent-to-unreachable ones and those in flight at the end. */
  endAt?: number;
  /** The second copy of a duplicated message. */
  readonly duplicate?: boolean;
}

/** A change of the network: a partition (its groups), a heal, a crash or a restart. */
export type TraceFault =
  | { readonly kind: "partition"; readonly at: number; readonly groups: readonly (readonly NodeId[])[] }
  | { readonly kind: "heal"; readonly at: number }
  | { readonly kind: "crash"; readonly at: number; readonly node: NodeId }
  | { readonly kind: "restart"; readonly at: number; readonly node: NodeId };

/** A protocol step of one node, e.g. Tendermint's propose / prevote / precommit / commit of a height. */
export interface TraceStep {
  readonly at: number;
  readonly node: NodeId;
  /** The step's name ("propose", "prevote", "precommit", "commit", or a protocol's own). */
  readonly step: string;
  readonly height?: number;
  readonly round?: number;
  /** What the step is about when not a height, e.g. a 2PC transaction id. */
  readonly subject?: string;
  /** Extra text shown on hover. */
  readonly detail?: string;
}

/** An invariant the checker found broken, with the nodes and height it concerns (to highlight). */
export interface TraceViolation {
  readonly at: number;
  readonly invariant: string;
  readonly detail: string;
  readonly nodes: readonly NodeId[];
  readonly height?: number;
  /** What it is about when not a height, e.g. a 2PC transaction id. */
  readonly subject?: string;
}

/** A recorded run: everything the renderer needs. */
export interface Trace {
  /** Title line, e.g. "simulate consensus seed 7". */
  title: string;
  /** The command that replays the run. */
  replay?: string;
  readonly nodes: NodeId[];
  readonly messages: TraceMessage[];
  readonly faults: TraceFault[];
  readonly steps: TraceStep[];
  readonly violations: TraceViolation[];
  /** Messages not recorded because `messagesMax` was reached. */
  messagesUnrecorded: number;
  /** Virtual time at the end of the run. */
  endAt: number;
}

/** What a payload is, for the trace: a label and, when known, the protocol height. */
export interface MessageDescription {
  readonly label: string;
  readonly height?: number;
  /** Who signed or first sent it, when that may differ from the sender (relayed votes). */
  readonly origin?: NodeId;
  /** What it is about when not a height, e.g. a 2PC transaction id. */
  readonly subject?: string;
}

/** Options of {@link TraceRecorder}. */
export interface TraceRecorderOptions {
  /** Describes a payload (decode it, name its kind); default: its length in bytes. */
  describe?: (payload: Uint8Array) => MessageDescription;
  /** Bound on recorded messages (memory); later ones are only counted. Default 200 000. */
  messagesMax?: number;
}

/** Default bound on recorded messages: about 40 MB of records, far beyond what a page can draw. */
export const TRACE_MESSAGES_MAX = 200_000;
const STEPS_MAX = 200_000;

/** Records one simulated run; hand it to `SimNetwork` (option `trace`) and to the simulation. */
export class TraceRecorder {
  /** The trace so far. */
  readonly trace: Trace = {
    title: "",
    nodes: [],
    messages: [],
    faults: [],
    steps: [],
    violations: [],
    messagesUnrecorded: 0,
    endAt: 0,
  };
  private describe: (payload: Uint8Array) => MessageDescription;
  private readonly messagesMax: number;
  private now: () => number = () => 0;

  /** A recorder with nothing recorded. */
  constructor(options: TraceRecorderOptions = {}) {
    this.describe = options.describe ?? ((p) => ({ label: `${p.length} B` }));
    this.messagesMax = aint(options.messagesMax ?? TRACE_MESSAGES_MAX, 0, 10_000_000, "messagesMax");
  }

  /** @internal Called by the network that feeds this recorder: its virtual clock. */
  attach(now: () => number): void {
    this.now = now;
  }

  /** Replaces the payload describer (a simulation knows its own message codec). */
  setDescriber(describe: (payload: Uint8Array) => MessageDescription): void {
    this.describe = describe;
  }

  /** @internal A node joined. */
  node(id: NodeId): void {
    if (!this.trace.nodes.includes(id)) this.trace.nodes.push(id);
  }

  /**
   * @internal A message was sent; returns its record (for {@link end}), or undefined when the
   * bound is reached. `fate` is "dropped" when the target was unreachable at send.
   */
  send(
    from: NodeId,
    to: NodeId,
    payload: Uint8Array,
    fate: MessageFate,
    duplicate = false,
  ): TraceMessage | undefined {
    if (this.trace.messages.length >= this.messagesMax) return void this.trace.messagesUnrecorded++;
    const d = this.describe(payload);
    const m: TraceMessage = {
      from,
      to,
      sentAt: this.now(),
      label: d.label,
      ...(d.height !== undefined ? { height: d.height } : {}),
      ...(d.origin !== undefined ? { origin: d.origin } : {}),
      ...(d.subject !== undefined ? { subject: d.subject } : {}),
      fate,
      ...(duplicate ? { duplicate } : {}),
    };
    this.trace.messages.push(m);
    return m;
  }

  /** @internal A message in flight arrived ("delivered") or was dropped on arrival. */
  end(m: TraceMessage | undefined, fate: "delivered" | "dropped"): void {
    if (m === undefined) return;
    m.fate = fate;
    m.endAt = this.now();
  }

  /** @internal The network changed. */
  fault(f: TraceFault): void {
    this.trace.faults.push(f);
  }

  /** Notes a protocol step of `node` at the current virtual time. */
  step(
    node: NodeId,
    step: string,
    extra: { height?: number; round?: number; subject?: string; detail?: string } = {},
  ): void {
    if (this.trace.steps.length >= STEPS_MAX) return;
    this.trace.steps.push({ at: this.now(), node, step, ...extra });
  }

  /** Notes a violated invariant at the current virtual time; `about` is its height or subject (to highlight). */
  violation(
    invariant: string,
    detail: string,
    nodes: readonly NodeId[],
    about: { height?: number; subject?: string } = {},
  ): void {
    this.trace.violations.push({ at: this.now(), invariant, detail, nodes: [...nodes], ...about });
  }

  /** Closes the trace at the current virtual time, with its title and replay command; returns it. */
  finish(title: string, replay?: string): Trace {
    this.trace.title = title;
    if (replay !== undefined) this.trace.replay = replay;
    this.trace.endAt = this.now();
    return this.trace;
  }
}

/**
 * The nodes and height a checker's message names: node ids of the run (`n3`, `p0`, `c`…) that appear
 * as words, and the first `height H` or `H/R/T`-shaped evidence key. Lets a simulation hand its
 * violation text to {@link TraceRecorder.violation} without restating it.
 */
export function violationSubjects(
  detail: string,
  nodes: readonly NodeId[],
): { nodes: NodeId[]; height?: number } {
  const named = nodes.filter((id) =>
    new RegExp(`(^|[^\\w])${id.replace(/[^\w]/g, "\\$&")}($|[^\\w])`).test(detail),
  );
  const h = /height (\d+)/.exec(detail) ?? /[0-9a-f]{64}\/(\d+)\/\d+\/\d+/.exec(detail);
  return { nodes: named, ...(h !== null ? { height: Number(h[1]) } : {}) };
}
