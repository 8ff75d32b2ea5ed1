import DiffEqCore

/// Why a reverse-mode request could not be served.
public enum ReverseModeError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The right-hand side is a closure over one concrete scalar type (``ClosureRHS``), which
    /// cannot be run on ``Tracked`` scalars.
    case closureRightHandSide(type: String)
    /// An input has the wrong length.
    case dimensionMismatch(what: String, expected: Int, got: Int)
    /// A replayed tape made a comparison (the `comparison`-th recorded) come out the other way:
    /// the function branches on its inputs, so the tape does not describe it at the new point.
    case branchChanged(comparison: Int)
    /// The recording read a tracked value as a plain `Double` (`primal`), so a replay cannot be
    /// checked; record again instead.
    case notReplayable

    public var description: String {
        switch self {
        case .closureRightHandSide(let type):
            return "reverse-mode AD needs the generic form of the right-hand side: \(type) is a closure over one "
                + "scalar type and cannot run on tracked scalars. Write the model as a type conforming to ODEModel "
                + "(func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S)) and build the problem "
                + "with ODEProblem(model:u0:tspan:p:)"
        case .dimensionMismatch(let what, let expected, let got):
            return "\(what) has length \(got), expected \(expected)"
        case .branchChanged(let k):
            return "replaying the tape changed the outcome of recorded comparison #\(k): the function branches on "
                + "its inputs; record it again at the new point"
        case .notReplayable:
            return "the recording read a tracked value as a Double (primal), so a replay cannot be checked; record again"
        }
    }
}

/// A right-hand side given in the generic form, so that it can run on any scalar (including the
/// reverse-mode ``Tracked``). ``GenericRHS`` conforms; a ``ClosureRHS`` does not.
public protocol ModelBackedRHS: ODEFunction {
    associatedtype Model: ODEModel
    var model: Model { get }
}

extension GenericRHS: ModelBackedRHS {}

// MARK: Generic functions

/// `vᵀ ∂f/∂x` of a generic vector function by reverse mode (one recording, one sweep), with the
/// value `f(x)`.
@inlinable
public func vjp<F: VectorFunction>(
    of f: F, at x: [Double], cotangent v: [Double]
) throws(ReverseModeError) -> (value: [Double], vjp: [Double]) {
    try vjp(of: { (y: [Tracked]) in f(y) }, at: x, cotangent: v)
}

/// `vᵀ ∂f/∂x` of a function written on ``Tracked`` scalars, with the value `f(x)`.
@inlinable
public func vjp(
    of f: ([Tracked]) -> [Tracked], at x: [Double], cotangent v: [Double]
) throws(ReverseModeError) -> (value: [Double], vjp: [Double]) {
    let tape = ReverseTape(capacity: 64 + 4 * x.count)
    return try withExtendedLifetime(tape) { () throws(ReverseModeError) in
        let y = f(tape.variables(x))
        try tape.pullback(outputs: y, cotangent: v)
        return (y.map(\.value), tape.variableAdjoints())
    }
}

/// The gradient of a generic scalar function by reverse mode: one recording and one sweep,
/// whatever the number of inputs (the forward-mode ``gradient(of:at:)`` needs `n / 8` passes).
@inlinable
public func reverseGradient<F: ScalarFunction>(of f: F, at x: [Double]) -> [Double] {
    reverseGradient(of: { (y: [Tracked]) in f(y) }, at: x)
}

/// The gradient of a function written on ``Tracked`` scalars by reverse mode.
@inlinable
public func reverseGradient(of f: ([Tracked]) -> Tracked, at x: [Double]) -> [Double] {
    let tape = ReverseTape(capacity: 64 + 4 * x.count)
    return withExtendedLifetime(tape) {
        tape.pullback(output: f(tape.variables(x)))
        return tape.variableAdjoints()
    }
}

// MARK: Right-hand sides

/// The state of an ``RHSTape`` behind a stable pointer (no exclusivity checks on the hot path).
@usableFromInline
struct _RHSTapeState {
    @usableFromInline var u: [Tracked] = []
    @usableFromInline var p: [Tracked] = []
    @usableFromInline var du: [Tracked] = []
    @usableFromInline var t = Tracked(constant: 0)
    /// The slot of each output `du[i]`, -1 for a constant output (`u.count` entries).
    @usableFromInline var outputs: UnsafeMutablePointer<Int32> = .allocate(capacity: 0)
    @usableFromInline var recorded = false
    @usableFromInline var reuse = true
    @usableFromInline var recordings = 0
    @usableFromInline var replays = 0
    @usableFromInline var branchChanges = 0

    @inlinable init() {}

    @inlinable mutating func _takeU() -> [Tracked] {
        var a: [Tracked] = []
        swap(&a, &u)
        return a
    }

    @inlinable mutating func _takeP() -> [Tracked] {
        var a: [Tracked] = []
        swap(&a, &p)
        return a
    }
}

/// The vector-Jacobian product of a right-hand side, `vᵀ ∂f/∂u` and `vᵀ ∂f/∂p` at `(u, p, t)`,
/// on a tape that is recorded once and replayed for new inputs.
///
/// ```swift
/// let tape = RHSTape(LotkaVolterra())
/// let (du, dp) = try tape.vjp(u: [1, 1], p: [1.5, 1, 3, 1], t: 0, v: [1, 0])  // records
/// let again = try tape.vjp(u: [2, 0.5], p: [1.5, 1, 3, 1], t: 0.1, v: [0, 1])  // replays
/// ```
///
/// The first call records `f` on ``Tracked`` scalars. Later calls with inputs of the same sizes
/// replay the recorded operations with the new values (no Swift code of the model runs), unless
/// the recording cannot be replayed (see the reuse rule in ``ReverseTape``): when a recorded
/// comparison changes outcome at the new inputs, or the model read a tracked value as a
/// `Double`, the tape records again at the new point, so results always equal a fresh recording.
/// Calls with unchanged `(u, p, t)` skip the forward pass and only sweep.
///
/// Threading: an `RHSTape` belongs to one thread or task at a time (give each worker its own).
public final class RHSTape {
    @usableFromInline let tape: ReverseTape
    @usableFromInline let state: UnsafeMutablePointer<_RHSTapeState>
    @usableFromInline let body: (inout [Tracked], [Tracked], [Tracked], Tracked) -> Void

    @usableFromInline
    init(body: @escaping (inout [Tracked], [Tracked], [Tracked], Tracked) -> Void, reuse: Bool) {
        tape = ReverseTape(capacity: 256)
        state = .allocate(capacity: 1)
        state.initialize(to: _RHSTapeState())
        state.pointee.reuse = reuse
        self.body = body
    }

    deinit {
        state.pointee.outputs.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    @inlinable
    static func _body<M: ODEModel>(_ model: M) -> (inout [Tracked], [Tracked], [Tracked], Tracked) -> Void {
        { du, u, p, t in model.rhs(&du, u, p, t) }
    }

    /// A tape for `model`. With `reuse: false` every call records afresh.
    @inlinable
    public convenience init<M: ODEModel>(_ model: M, reuse: Bool = true) {
        self.init(body: RHSTape._body(model), reuse: reuse)
    }

    /// A tape for a right-hand side in the generic form (a ``GenericRHS``, such as a problem's
    /// `f` built with `ODEProblem(model:u0:tspan:p:)`), specialised for its model.
    @inlinable
    public convenience init<F: ModelBackedRHS>(_ f: F, reuse: Bool = true) {
        self.init(body: RHSTape._body(f.model), reuse: reuse)
    }

    /// A tape for any right-hand side, for generic code that does not know its form. Throws
    /// ``ReverseModeError/closureRightHandSide(type:)`` for the closure form, which cannot run on
    /// tracked scalars. The model is found by a dynamic cast, so recording runs unspecialised
    /// (through witness tables); code that can constrain `F: ModelBackedRHS` gets the
    /// specialised initializer instead. Replays do not run model code and are unaffected.
    @inlinable
    public convenience init<F: ODEFunction>(_ f: F, reuse: Bool = true) throws(ReverseModeError) {
        guard let backed = f as? any ModelBackedRHS else {
            throw .closureRightHandSide(type: String(describing: F.self))
        }
        self.init(body: RHSTape._body(backed.model), reuse: reuse)
    }

    /// Whether later calls replay the recording (default `true`).
    public var reusesRecording: Bool {
        get { state.pointee.reuse }
        set { state.pointee.reuse = newValue }
    }

    /// How many times `f` was recorded.
    public var recordings: Int { state.pointee.recordings }
    /// How many calls replayed the recording.
    public var replays: Int { state.pointee.replays }
    /// How many replays found a recorded comparison changed and recorded again.
    public var branchChanges: Int { state.pointee.branchChanges }

    /// `(vᵀ ∂f/∂u, vᵀ ∂f/∂p)` at `(u, p, t)`.
    @inlinable
    public func vjp(u: [Double], p: [Double], t: Double, v: [Double]) throws(ReverseModeError) -> (du: [Double], dp: [Double]) {
        var du = [Double](repeating: 0, count: u.count)
        var dp = [Double](repeating: 0, count: p.count)
        try vjp(u: u, p: p, t: t, v: v, du: &du, dp: &dp)
        return (du, dp)
    }

    /// `vᵀ ∂f/∂u` into `du` and `vᵀ ∂f/∂p` into `dp` (overwritten; sized like `u` and `p`),
    /// without allocating once the tape has been recorded.
    @inlinable
    public func vjp(
        u: [Double], p: [Double], t: Double, v: [Double], du: inout [Double], dp: inout [Double]
    ) throws(ReverseModeError) {
        let n = u.count, np = p.count
        guard v.count == n else { throw .dimensionMismatch(what: "v", expected: n, got: v.count) }
        guard du.count == n else { throw .dimensionMismatch(what: "du", expected: n, got: du.count) }
        guard dp.count == np else { throw .dimensionMismatch(what: "dp", expected: np, got: dp.count) }
        let s = state
        let ts = tape.storage
        let firstOperation = n + np + 2
        // A replay clears the adjoints of the slots it recomputes; otherwise clear them all.
        var replayed = false
        if s.pointee.recorded && s.pointee.reuse && s.pointee.u.count == n && s.pointee.p.count == np
            && !ts.pointee.valueEscaped
        {
            if _setInputs(u, p, t) {
                ts.pointee.forward(from: firstOperation)
                if !ts.pointee.comparisons.isEmpty && ts.pointee.firstChangedComparison() != nil {
                    s.pointee.branchChanges += 1
                    try _record(u, p, t)
                } else {
                    s.pointee.replays += 1
                    replayed = true
                }
            } else {
                s.pointee.replays += 1
            }
        } else {
            try _record(u, p, t)
        }
        let adj = ts.pointee.adjoints
        if replayed {
            (adj + 1).update(repeating: 0, count: firstOperation &- 1)
        } else {
            ts.pointee.clearAdjoints()
        }
        let outputs = s.pointee.outputs
        v.withUnsafeBufferPointer { v in
            for i in 0..<n {
                let o = outputs[i]
                if o >= 0 { adj[Int(o)] += v[i] }
            }
        }
        ts.pointee.sweep(downTo: firstOperation)
        // The variables are slots 1...n (u), n+1...n+np (p), n+np+1 (t).
        du.withUnsafeMutableBufferPointer { d in
            for i in 0..<n { d[i] = adj[i &+ 1] }
        }
        dp.withUnsafeMutableBufferPointer { d in
            let q = adj + (n &+ 1)
            for k in 0..<np { d[k] = q[k] }
        }
    }

    /// `vᵀ ∂f/∂t` from the last ``vjp(u:p:t:v:du:dp:)`` call.
    public var timeAdjoint: Double {
        let n = state.pointee.u.count + state.pointee.p.count
        return tape.storage.pointee.adjoints[1 + n]
    }

    /// `f(u, p, t)` at the last call's inputs.
    public var value: [Double] {
        let s = state.pointee, ts = tape.storage
        return (0..<s.du.count).map { i in
            let o = s.outputs[i]
            return o >= 0 ? ts.pointee.values[Int(o)] : s.du[i].value
        }
    }

    /// Which inputs each output of `f` depends on through the recorded operations: entry `i`
    /// lists, in increasing order, the `j` with `∂f_i/∂x_j` possibly nonzero, where `x = [u; p]`
    /// (`j < u.count` a state, above it a parameter). The structural sparsity of the Jacobians,
    /// for compressed (colored) forward-mode evaluation (Curtis, Powell & Reid, "On the estimation
    /// of sparse Jacobian matrices", J. Inst. Math. Appl. 13, 1974).
    ///
    /// Records at `(u, p, t)` unless a recording of these sizes exists. `nil` when the recording
    /// cannot vouch for the pattern at other points: the model compared tracked values (another
    /// branch may read other inputs), read one as a `Double`, or used vector operations.
    @inlinable
    public func dependencyPattern(u: [Double], p: [Double], t: Double) throws(ReverseModeError) -> [[Int]]? {
        let n = u.count, np = p.count
        let s = state, ts = tape.storage
        if !(s.pointee.recorded && s.pointee.u.count == n && s.pointee.p.count == np) { try _record(u, p, t) }
        guard ts.pointee.vectorOps.isEmpty, ts.pointee.comparisons.isEmpty, !ts.pointee.valueEscaped else { return nil }
        let inputs = n + np, words = (inputs + 63) / 64, count = ts.pointee.count
        // One bit set per slot: the inputs it depends on. Parents precede their children, and
        // the second parent of a one-operand operation is the sink (slot 0, no bits).
        var bits = [UInt64](repeating: 0, count: count * words)
        let nodes = ts.pointee.nodes, kinds = ts.pointee.kinds
        bits.withUnsafeMutableBufferPointer { b in
            for j in 0..<inputs { b[(1 + j) * words + j / 64] |= 1 << UInt64(j % 64) }
            var i = inputs + 2
            while i < count {
                switch kinds[i] {
                case .sink, .input, .constant, .vectorOutput: break
                default:
                    let a = Int(nodes[i].a) * words, c = Int(nodes[i].b) * words
                    for w in 0..<words { b[i * words + w] = b[a + w] | b[c + w] }
                }
                i += 1
            }
        }
        let outputs = s.pointee.outputs
        return (0..<n).map { i in
            let o = Int(outputs[i])
            guard o >= 0 else { return [] }
            var row: [Int] = []
            for w in 0..<words {
                var x = bits[o * words + w]
                while x != 0 {
                    row.append(w * 64 + x.trailingZeroBitCount)
                    x &= x - 1
                }
            }
            return row
        }
    }

    /// Writes the new inputs into the variable slots; `false` when they equal the current ones.
    @inlinable @inline(__always)
    func _setInputs(_ u: [Double], _ p: [Double], _ t: Double) -> Bool {
        let slots = tape.storage.pointee.values + 1
        let n = u.count, np = p.count
        // Bitwise comparison: -0 and +0 count as different (a harmless replay), a NaN as itself.
        var changed = slots[n &+ np].bitPattern ^ t.bitPattern
        slots[n &+ np] = t
        u.withUnsafeBufferPointer { b in
            for i in 0..<n {
                changed |= slots[i].bitPattern ^ b[i].bitPattern
                slots[i] = b[i]
            }
        }
        p.withUnsafeBufferPointer { b in
            let q = slots + n
            for k in 0..<np {
                changed |= q[k].bitPattern ^ b[k].bitPattern
                q[k] = b[k]
            }
        }
        return changed != 0
    }

    /// Records `f` at `(u, p, t)`.
    @inlinable
    func _record(_ u: [Double], _ p: [Double], _ t: Double) throws(ReverseModeError) {
        let s = state
        let ts = tape.storage
        ts.pointee.reset()
        if s.pointee.u.count != u.count {
            s.pointee.u = [Tracked](repeating: .zero, count: u.count)
            s.pointee.du = [Tracked](repeating: .zero, count: u.count)
            s.pointee.outputs.deallocate()
            s.pointee.outputs = .allocate(capacity: u.count)
            s.pointee.outputs.initialize(repeating: -1, count: u.count)
        }
        if s.pointee.p.count != p.count { s.pointee.p = [Tracked](repeating: .zero, count: p.count) }
        // The variables take slots 1...n (u), n+1...n+np (p), n+np+1 (t); this tape knows where
        // they are, so they are not listed in the storage's `inputs`.
        if _slowPath(ts.pointee.capacity < u.count + p.count + 2) {
            ts.pointee.grow(toAtLeast: u.count + p.count + 2)
        }
        @inline(__always) func variables(_ x: [Double], _ into: inout [Tracked]) {
            into.withUnsafeMutableBufferPointer { b in
                x.withUnsafeBufferPointer { x in
                    for i in 0..<x.count {
                        b[i] = Tracked(value: x[i], index: ts.pointee.push(.input, 0, 0, 0, 0, 0, x[i]), tape: ts)
                    }
                }
            }
        }
        variables(u, &s.pointee.u)
        variables(p, &s.pointee.p)
        s.pointee.t = Tracked(value: t, index: ts.pointee.push(.input, 0, 0, 0, 0, 0, t), tape: ts)
        s.pointee.du.withUnsafeMutableBufferPointer { b in
            for i in 0..<b.count { b[i] = .zero }
        }
        // Move the argument arrays out for the call and back afterwards: passing them straight
        // from the state would cost a retain and a release each.
        let uArgument = s.pointee._takeU(), pArgument = s.pointee._takeP()
        body(&s.pointee.du, uArgument, pArgument, s.pointee.t)
        s.pointee.u = uArgument
        s.pointee.p = pArgument
        guard s.pointee.du.count == u.count else {
            let got = s.pointee.du.count
            s.pointee.du = [Tracked](repeating: .zero, count: u.count)
            s.pointee.recorded = false
            throw .dimensionMismatch(what: "du written by the model", expected: u.count, got: got)
        }
        let out = s.pointee.outputs
        s.pointee.du.withUnsafeBufferPointer { du in
            for i in 0..<du.count { out[i] = du[i].tape == ts ? du[i].index : -1 }
        }
        s.pointee.recorded = true
        s.pointee.recordings += 1
    }
}

/// `(vᵀ ∂f/∂u, vᵀ ∂f/∂p)` for a model's right-hand side at `(u, p, t)`: one recording, one
/// sweep. For repeated calls keep an ``RHSTape``, which replays its recording.
@inlinable
public func rhsVJP<M: ODEModel>(
    _ model: M, u: [Double], p: [Double], t: Double, v: [Double]
) throws(ReverseModeError) -> (du: [Double], dp: [Double]) {
    try RHSTape(model, reuse: false).vjp(u: u, p: p, t: t, v: v)
}

/// ``rhsVJP(_:u:p:t:v:)`` for a right-hand side in the generic form (a problem's `f`).
@inlinable
public func rhsVJP<F: ModelBackedRHS>(
    _ f: F, u: [Double], p: [Double], t: Double, v: [Double]
) throws(ReverseModeError) -> (du: [Double], dp: [Double]) {
    try RHSTape(f, reuse: false).vjp(u: u, p: p, t: t, v: v)
}

/// ``rhsVJP(_:u:p:t:v:)`` for any right-hand side; throws
/// ``ReverseModeError/closureRightHandSide(type:)`` for the closure form.
@inlinable
public func rhsVJP<F: ODEFunction>(
    _ f: F, u: [Double], p: [Double], t: Double, v: [Double]
) throws(ReverseModeError) -> (du: [Double], dp: [Double]) {
    try RHSTape(f, reuse: false).vjp(u: u, p: p, t: t, v: v)
}
