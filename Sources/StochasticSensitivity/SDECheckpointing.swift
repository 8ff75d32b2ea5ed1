public import DiffEqCore
public import Sensitivity
public import StochasticDE

/// How ``SDEDiscreteAdjoint`` gets the start of each step back in its reverse sweep.
public enum SDECheckpointing: Sendable, Equatable {
    /// Keep every accepted step's start and end state (the forward solve's dense output): no
    /// step is redone, memory grows with the number of steps (`2n + 3` doubles per step).
    case storeAll
    /// Keep at most `c` states (`c ≥ 1`, the one at `t0` included) and redo the steps between
    /// them by the binomial schedule of Griewank & Walther ("Algorithm 799: revolve", ACM TOMS
    /// 26(1), 2000): memory independent of the number of steps `N`, forward work
    /// `N + T(N, c)` steps, where the `N` count the steps (the forward solve) and `T` is the
    /// revolve minimum `r·N − β(c + 1, r − 1)` with `β(s, r) = C(s + r, s)` and `r` the smallest
    /// with `β(c, r) ≥ N` (each step redone at most `r` times). A step is not redone at its turn
    /// in the sweep: its size and end were read when the schedule last stepped over it (kept
    /// with the interval it ends, one pair per pending interval, so O(c)). The gradient is the
    /// store-all one bit for bit: a checkpoint holds the loop's time, state, proposed step,
    /// controller memory and counters and the noise's position, and the path comes from the
    /// tree, so the redone steps are the forward solve's.
    case binomial(Int)
}

/// Griewank & Walther's binomial schedule ("Algorithm 799: revolve", ACM TOMS 26(1), 2000,
/// §2): with `s` checkpoints and steps redone at most `r` times, at most `β(s, r) = C(s + r, s)`
/// steps can be reversed, with the fewest forward steps `T(l, s) = r·l − β(s + 1, r − 1)` for
/// `β(s, r − 1) < l ≤ β(s, r)`.
@usableFromInline
enum _BinomialSchedule {
    /// `C(s + r, s)`, 0 for `r < 0`, capped at 2⁶² (far above any step count).
    @inlinable
    static func beta(_ s: Int, _ r: Int) -> Int {
        guard r >= 0 else { return 0 }
        var b = 1
        for i in stride(from: 1, through: r, by: 1) {
            // C(s + i, i) = C(s + i − 1, i − 1)·(s + i)/i, exact at every i.
            let (product, overflow) = b.multipliedReportingOverflow(by: s + i)
            if overflow || product / i > 1 << 62 { return 1 << 62 }
            b = product / i
        }
        return b
    }

    /// The fewest repetitions `r` with `β(s, r) ≥ l`.
    @inlinable
    static func repetitions(steps l: Int, checkpoints s: Int) -> Int {
        var r = 0
        while beta(s, r) < l { r += 1 }
        return r
    }

    /// Where to put the next checkpoint when reversing `l ≥ 2` steps with `s ≥ 2` checkpoints
    /// (the one at the start included): `m` steps ahead, so that the `l − m` steps after it are
    /// reversed with `s − 1` checkpoints and `r` repetitions, those before it (already stepped
    /// once) with `s` checkpoints and `r − 1`, and the total is `T(l, s)`. A split `m` with
    /// `β(s, r − 2) ≤ m ≤ β(s, r − 1)` and `β(s − 1, r − 1) ≤ l − m ≤ β(s − 1, r)` gives
    /// `m + T(l − m, s − 1) + T(m, s) = T(l, s)`; the largest such `m` is taken (checked against
    /// the minimum of that recursion by exhaustive search for l < 80, s < 6, and against the
    /// closed form for l < 4,000 and l = 10⁴, 2¹⁶, 10⁵, 10⁶ with s ≤ 12, offline).
    @inlinable
    static func split(steps l: Int, checkpoints s: Int) -> Int {
        let r = repetitions(steps: l, checkpoints: s)
        let upper = Swift.min(l - 1, beta(s, r - 1), l - beta(s - 1, r - 1))
        return Swift.max(1, upper)
    }
}

/// The reverse sweep of ``SDEDiscreteAdjoint`` with binomial checkpointing: the loop of the
/// forward solve, redone from stored checkpoints (``SDECheckpointing/binomial(_:)``).
@usableFromInline
struct _SDEBinomialReplay<M: SDEModel> {
    @usableFromInline typealias Loop = ODEIntegrator<SDELoopStepper<GenericSDE<M, Double>, BrownianTreeNoise>>

    @usableFromInline var loop: Loop
    /// Checkpoint `d` belongs to the recursion level with `c − d` checkpoints (a stack).
    @usableFromInline var slots: [LoopCheckpoint<[Double]>] = []
    @usableFromInline var noiseTimes: [Double]
    @usableFromInline var slotSteps: [Int]
    @usableFromInline let c: Int
    /// The step the loop is at (the number of steps taken from `t0`).
    @usableFromInline var position = 0
    @usableFromInline var held = 0
    @usableFromInline var peak = 0
    @usableFromInline var stored = 0
    /// Steps redone to move between checkpoints, and steps redone at a turn because their size
    /// was not known (none with this schedule; counted so that a test sees it).
    @usableFromInline var advances = 0
    @usableFromInline var turnSteps = 0
    @usableFromInline var evaluations = 0
    /// The last step the loop took: its index, size and end.
    @usableFromInline var seen = _StepSize(index: -1, h: 0, end: 0)
    /// The step of the current turn: where the noise was when it began, its start time and state,
    /// its size and end (the forward solve's, read when the loop last took it).
    @usableFromInline var turnNoiseFrom = 0.0
    @usableFromInline var turnStep = _StepSize(index: -1, h: 0, end: 0)
    @usableFromInline var turnStart = 0.0
    @usableFromInline var turnState: [Double] = []

    /// Takes the checkpoint at `t0` of `loop`, which has not stepped yet.
    @inlinable
    init(_ loop: Loop, checkpoints c: Int) {
        self.loop = loop
        self.c = c
        noiseTimes = [Double](repeating: 0, count: c)
        slotSteps = [Int](repeating: 0, count: c)
        turnState = loop.u
        store(slot: 0)
    }

    /// The forward solve (the loop from the checkpoint at `t0` to the end).
    @inlinable
    mutating func solve() -> ODESolution<Double> {
        let sol = loop.solve()
        position = loop.stats.naccept
        seen = _StepSize(index: position - 1, h: loop.lastStep.h, end: loop.t)
        return sol
    }

    @inlinable
    mutating func store(slot: Int) {
        if slot < slots.count {
            loop.checkpoint(into: &slots[slot])
        } else {
            slots.append(loop.checkpoint())
        }
        noiseTimes[slot] = loop.withStepper { $0.noise.currentTime }
        slotSteps[slot] = position
        held = slot + 1
        peak = Swift.max(peak, held)
        stored += 1
    }

    @inlinable
    mutating func restore(slot: Int) throws(SensitivityError) {
        loop.restore(slots[slot])
        let t = noiseTimes[slot]
        do {
            try loop.withStepper { (s) throws(NoiseError) in try s.restoreNoise(at: t) }
        } catch {
            throw .unsupported("Brownian tree: \(error)")
        }
        position = slotSteps[slot]
    }

    /// One step of the loop, which must be the forward solve's: refused if the loop stops.
    @inlinable
    mutating func step() throws(SensitivityError) {
        let before = loop.stats
        loop.step()
        guard loop.stats.naccept == before.naccept + 1 else {
            throw .solveFailed(phase: "checkpoint replay", retcode: loop.retcode ?? .failure, message: loop.message)
        }
        evaluations += loop.stats.nf - before.nf
        seen = _StepSize(index: position, h: loop.lastStep.h, end: loop.t)
        position += 1
    }

    /// Reverses steps `a..<b` with `s` checkpoints, the one of `a` in slot `c − s`: `turn(k)` is
    /// called for `k = b − 1 … a`, each time right after the loop redid step `k`.
    ///
    /// The schedule is revolve's recursion (split at `m`, reverse `a + m..<b` with one
    /// checkpoint less, then `a..<a + m` with the same ones), run from an explicit stack of the
    /// intervals still to reverse: the recursion's depth is the number of checkpoints, and with
    /// thousands of them a debug build overflowed a test thread's stack.
    @inlinable
    mutating func reverse(
        _ a: Int, _ b: Int, checkpoints s: Int, turn: (inout Self) throws(SensitivityError) -> Void
    ) throws(SensitivityError) {
        // Each entry: an interval a..<b whose first state is in slot c − s, with the size of its
        // last step (known when the interval is made: the loop has just stepped over it, in the
        // forward solve or on its way to the checkpoint at b); the entry pushed last is reversed
        // first, as the recursion's inner call was. Every other step's size is read on the way to
        // the next turn (the loop steps over step k to reach step k + 1's start).
        var pending = [(a: a, b: b, s: s, last: seen)]
        pending.reserveCapacity(Swift.min(s, b - a) + 1)
        while let (a, b, s, last) = pending.popLast() {
            held = c - s + 1
            var next = last
            if b - a > 1 && s == 1 {
                for k in stride(from: b - 1, through: a + 1, by: -1) {
                    try moveTo(k, from: a, slot: c - s)
                    try takeTurn(k, next, turn)
                    next = seen
                }
            } else if b - a > 1 {
                let m = _BinomialSchedule.split(steps: b - a, checkpoints: s)
                try moveTo(a + m, from: a, slot: c - s)
                store(slot: c - s + 1)
                pending.append((a, a + m, s, seen))
                pending.append((a + m, b, s - 1, last))
                continue
            }
            try moveTo(a, from: a, slot: c - s)
            try takeTurn(a, next, turn)
        }
    }

    /// Brings the loop to step `k` from the checkpoint of step `a` (or from where it is, when
    /// that is on the way).
    @inlinable
    mutating func moveTo(_ k: Int, from a: Int, slot: Int) throws(SensitivityError) {
        if position > k || position < a { try restore(slot: slot) }
        while position < k {
            try step()
            advances += 1
        }
    }

    /// The turn of step `k`, with the loop at its start and `size` the size and end of step `k`
    /// if that is what it holds (otherwise the step is redone to read them).
    @inlinable
    mutating func takeTurn(
        _ k: Int, _ size: _StepSize, _ turn: (inout Self) throws(SensitivityError) -> Void
    ) throws(SensitivityError) {
        turnNoiseFrom = loop.withStepper { $0.noise.currentTime }
        if size.index == k {
            turnStep = size
            turnStart = loop.t
            let u = loop.u
            for i in u.indices { turnState[i] = u[i] }
        } else {
            try step()
            turnSteps += 1
            let (start, u, _) = loop.lastStep
            turnStep = seen
            turnStart = start
            for i in u.indices { turnState[i] = u[i] }
        }
        try turn(&self)
    }
}

/// An accepted step of the loop as the reverse sweep needs it: its index from `t0`, its size and
/// the time it ended at (which a landing on a stop can make differ from start + size).
@usableFromInline
struct _StepSize {
    @usableFromInline var index: Int
    @usableFromInline var h: Double
    @usableFromInline var end: Double

    @inlinable
    init(index: Int, h: Double, end: Double) {
        self.index = index
        self.h = h
        self.end = end
    }
}
