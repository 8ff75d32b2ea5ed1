// The reverse-mode tape: a flat, preallocated record of every operation on `Tracked` scalars and
// of the vector-level operations (dense layers, activations, sums) whose pullbacks are written by
// hand over BLAS.
//
// Layout. Every value computed while recording gets one slot `i`; parallel raw buffers hold its
// value, its adjoint, its parents `a`, `b` (indices of earlier slots) with the local partials
// `da`, `db`, its operation kind and one constant operand. Slot 0 is a sink: an operation with a
// single tracked operand names slot 0 as its second parent with partial 0, so the reverse sweep is
// branch-free (`adj[a] += g da; adj[b] += g db`). A vector operation owns a contiguous block of
// output slots and one entry in `vectorOps`; the sweeps run the scalar slots between two vector
// blocks, then the block's hand-written forward or pullback.
//
// No reference counting on the hot path: a `Tracked` value carries an unmanaged pointer to this
// storage (allocated once by `ReverseTape`), recording appends to buffers that only grow, and a
// new recording resets counts without freeing anything.
//
// Reuse. `forward()` replays the recorded operations in order with new input values, recomputing
// values and local partials with the very formulas used while recording (`_TapeFormulas`), so a
// replay is bitwise identical to a fresh recording at the same inputs as long as the recorded
// operation sequence is still the one the Swift code would execute. Comparisons made on tracked
// values are recorded with their outcome and re-checked after a replay
// (`firstChangedComparison()`); reading a tracked value as a plain `Double` through the scalar
// protocol marks the recording as not replayable (`valueEscaped`).
import DiffEqCore

/// The operation that produced a tape slot.
@usableFromInline
enum _TapeOp: UInt8 {
    /// Slot 0, the target of the unused second parent of unary operations.
    case sink
    /// An independent variable (its value is set from outside on replay).
    case input
    /// A constant copied into a contiguous block for a vector operation.
    case constant
    /// An output of a vector operation (computed by the vector operation's forward pass).
    case vectorOutput
    /// `x` copied into a contiguous block for a vector operation.
    case copy
    // Two tracked operands.
    case add, sub, mul, div, pow
    // One tracked operand `x` and a constant `c` (stored with the slot).
    /// `x + c`; `x - c` is recorded as `x + (-c)`, which IEEE 754 makes bitwise the same.
    case addConst
    /// `c - x`.
    case constSub
    /// `x * c` (and `c * x`, `x.scaled(by: c)`).
    case mulConst
    /// `x / c`.
    case divConst
    /// `c / x`.
    case constDiv
    /// `x ^ c` for a real constant `c`.
    case powConst
    /// `c ^ x`.
    case constPow
    /// `x ^ n` for an integer `n` (stored in `c`).
    case powInt
    // One tracked operand.
    case neg, exp, expm1, log, log1p, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, sqrt, abs
}

/// Parents and local partials of one slot: `∂ slot / ∂ a = da`, `∂ slot / ∂ b = db`.
@usableFromInline
struct _TapeNode {
    @usableFromInline var a: Int32
    @usableFromInline var b: Int32
    @usableFromInline var da: Double
    @usableFromInline var db: Double

    @inlinable @inline(__always)
    init(a: Int32, b: Int32, da: Double, db: Double) {
        self.a = a
        self.b = b
        self.da = da
        self.db = db
    }
}

/// A comparison made on tracked values while recording, with its outcome. An operand index of
/// -1 means the operand was a constant, whose value is kept beside it.
@usableFromInline
struct _TapeComparison {
    @usableFromInline var lhs: Int32
    @usableFromInline var rhs: Int32
    @usableFromInline var isEquality: Bool
    @usableFromInline var outcome: Bool
    @usableFromInline var lhsConstant: Double
    @usableFromInline var rhsConstant: Double

    @inlinable
    init(lhs: Int32, rhs: Int32, isEquality: Bool, outcome: Bool, lhsConstant: Double, rhsConstant: Double) {
        self.lhs = lhs
        self.rhs = rhs
        self.isEquality = isEquality
        self.outcome = outcome
        self.lhsConstant = lhsConstant
        self.rhsConstant = rhsConstant
    }
}

/// The kinds of vector-level operations.
@usableFromInline
enum _VectorOpKind: UInt8 {
    /// `out[m] = W[m x n] x[n] + b[m]` (column-major `W`; `b` optional).
    case affine
    /// `out = tanh(x)`, `out = 1 / (1 + exp(-x))`, `out = max(x, 0)` elementwise.
    case tanh, sigmoid, relu
    /// `out[1] = Σ x`.
    case sum
    /// `out = x + w` elementwise.
    case add
}

/// One vector operation: its output block `[output, output + outputCount)` and its operands'
/// first slots (`x`, `w`, `b`; -1 when unused). `rows` is the output length, `columns` the
/// input length of an affine map.
@usableFromInline
struct _VectorOp {
    @usableFromInline var kind: _VectorOpKind
    @usableFromInline var output: Int32
    @usableFromInline var outputCount: Int32
    @usableFromInline var rows: Int32
    @usableFromInline var columns: Int32
    @usableFromInline var x: Int32
    @usableFromInline var w: Int32
    @usableFromInline var b: Int32

    @inlinable
    init(
        kind: _VectorOpKind, output: Int32, outputCount: Int32, rows: Int32, columns: Int32,
        x: Int32, w: Int32, b: Int32
    ) {
        self.kind = kind
        self.output = output
        self.outputCount = outputCount
        self.rows = rows
        self.columns = columns
        self.x = x
        self.w = w
        self.b = b
    }
}

/// The value and local partials of every scalar operation, shared by recording and replay so
/// that the two agree bitwise. Derivatives and conventions are those of `Dual` (Dual.swift).
@usableFromInline
enum _TapeFormulas {
    /// Value and derivative of a one-operand operation at `x` (with constant `c`).
    @inlinable @inline(__always)
    static func unary(_ op: _TapeOp, _ x: Double, _ c: Double) -> (value: Double, d: Double) {
        switch op {
        case .copy: return (x, 1)
        case .addConst: return (x + c, 1)
        case .constSub: return (c - x, -1)
        case .mulConst: return (x * c, c)
        case .divConst: return (x / c, 1 / c)
        case .constDiv:
            let q = c / x
            return (q, -q / x)
        case .powConst: return (Double.pow(x, c), c * Double.pow(x, c - 1))
        case .constPow:
            // d/dx c^x = c^x log c, taken as 0 at c = 0 (Dual's convention).
            let v = Double.pow(c, x)
            return (v, c == 0 ? 0 : v * Double.log(c))
        case .powInt:
            let n = Int(c)
            return (Double.pow(x, n), Double(n) * Double.pow(x, n - 1))
        case .neg: return (-x, -1)
        case .exp:
            let e = Double.exp(x)
            return (e, e)
        case .expm1: return (Double.expm1(x), Double.exp(x))
        case .log: return (Double.log(x), 1 / x)
        case .log1p: return (Double.log1p(x), 1 / (1 + x))
        case .sin: return (Double.sin(x), Double.cos(x))
        case .cos: return (Double.cos(x), -Double.sin(x))
        case .tan:
            let t = Double.tan(x)
            return (t, 1 + t * t)
        case .asin: return (Double.asin(x), 1 / (1 - x * x).squareRoot())
        case .acos: return (Double.acos(x), -1 / (1 - x * x).squareRoot())
        case .atan: return (Double.atan(x), 1 / (1 + x * x))
        case .sinh: return (Double.sinh(x), Double.cosh(x))
        case .cosh: return (Double.cosh(x), Double.sinh(x))
        case .tanh:
            let t = Double.tanh(x)
            return (t, 1 - t * t)
        case .sqrt:
            let s = x.squareRoot()
            return (s, 0.5 / s)
        // abs: derivative +1 at 0 (the right derivative, as Dual).
        case .abs: return x < 0 ? (-x, -1) : (x, 1)
        case .sink, .input, .constant, .vectorOutput, .add, .sub, .mul, .div, .pow: return (x, 0)
        }
    }

    /// Value and partials of a two-operand operation at `(x, y)`.
    @inlinable @inline(__always)
    static func binary(_ op: _TapeOp, _ x: Double, _ y: Double) -> (value: Double, da: Double, db: Double) {
        switch op {
        case .add: return (x + y, 1, 1)
        case .sub: return (x - y, 1, -1)
        case .mul: return (x * y, y, x)
        case .div:
            let q = x / y
            return (q, 1 / y, -q / y)
        case .pow:
            // d/dx x^y = y x^(y-1); d/dy x^y = x^y log x, taken as 0 at x = 0 (Dual's convention).
            let v = Double.pow(x, y)
            return (v, y * Double.pow(x, y - 1), x == 0 ? 0 : v * Double.log(x))
        default: return (x, 0, 0)
        }
    }
}

/// The tape's buffers. Allocated once per `ReverseTape` at a stable address, which every
/// `Tracked` value of the recording points to.
@usableFromInline
struct _TapeStorage {
    /// Number of slots in use (slot 0 is the sink).
    @usableFromInline var count: Int
    @usableFromInline var capacity: Int
    @usableFromInline var nodes: UnsafeMutablePointer<_TapeNode>
    @usableFromInline var values: UnsafeMutablePointer<Double>
    @usableFromInline var adjoints: UnsafeMutablePointer<Double>
    @usableFromInline var kinds: UnsafeMutablePointer<_TapeOp>
    @usableFromInline var constants: UnsafeMutablePointer<Double>
    @usableFromInline var comparisons: [_TapeComparison]
    @usableFromInline var vectorOps: [_VectorOp]
    /// Slots of the independent variables, in the order they were created.
    @usableFromInline var inputs: [Int32]
    /// Set when a tracked value was read as a plain `Double` through the scalar protocol
    /// (`primal`, `sumOfSquaredComponents`, `isFiniteScalar`): the recording may then depend on
    /// values in ways replay cannot check.
    @usableFromInline var valueEscaped: Bool

    init(capacity: Int) {
        let c = Swift.max(capacity, 16)
        self.capacity = c
        nodes = .allocate(capacity: c)
        values = .allocate(capacity: c)
        adjoints = .allocate(capacity: c)
        kinds = .allocate(capacity: c)
        constants = .allocate(capacity: c)
        nodes.initialize(repeating: _TapeNode(a: 0, b: 0, da: 0, db: 0), count: c)
        values.initialize(repeating: 0, count: c)
        adjoints.initialize(repeating: 0, count: c)
        kinds.initialize(repeating: .sink, count: c)
        constants.initialize(repeating: 0, count: c)
        comparisons = []
        vectorOps = []
        inputs = []
        valueEscaped = false
        count = 1
    }

    func deallocate() {
        nodes.deallocate()
        values.deallocate()
        adjoints.deallocate()
        kinds.deallocate()
        constants.deallocate()
    }

    /// Forgets the recording, keeping every buffer's capacity.
    @inlinable
    mutating func reset() {
        count = 1
        if !comparisons.isEmpty { comparisons.removeAll(keepingCapacity: true) }
        if !vectorOps.isEmpty { vectorOps.removeAll(keepingCapacity: true) }
        if !inputs.isEmpty { inputs.removeAll(keepingCapacity: true) }
        valueEscaped = false
    }

    /// Makes room for at least `needed` slots in total (doubling).
    @usableFromInline @inline(never)
    mutating func grow(toAtLeast needed: Int) {
        var c = capacity
        while c < needed { c *= 2 }
        precondition(c <= Int(Int32.max), "ReverseTape: more than 2^31 recorded operations")
        func move<T>(_ p: inout UnsafeMutablePointer<T>) {
            let q = UnsafeMutablePointer<T>.allocate(capacity: c)
            q.moveInitialize(from: p, count: count)
            p.deallocate()
            p = q
        }
        move(&nodes)
        move(&values)
        move(&adjoints)
        move(&kinds)
        move(&constants)
        capacity = c
    }

    /// Appends one slot and returns its index.
    @inlinable @inline(__always)
    mutating func push(
        _ kind: _TapeOp, _ a: Int32, _ b: Int32, _ da: Double, _ db: Double, _ c: Double, _ value: Double
    ) -> Int32 {
        if _slowPath(count == capacity) { grow(toAtLeast: count + 1) }
        let i = count
        nodes[i] = _TapeNode(a: a, b: b, da: da, db: db)
        values[i] = value
        kinds[i] = kind
        constants[i] = c
        count = i &+ 1
        return Int32(truncatingIfNeeded: i)
    }

    /// A new independent variable.
    @inlinable @inline(__always)
    mutating func pushInput(_ value: Double) -> Int32 {
        let i = push(.input, 0, 0, 0, 0, 0, value)
        inputs.append(i)
        return i
    }

    /// Appends `m` output slots of a vector operation (no scalar parents) and returns the first.
    @inlinable
    mutating func pushBlock(_ m: Int) -> Int32 {
        if _slowPath(count + m > capacity) { grow(toAtLeast: count + m) }
        let start = count
        (nodes + start).update(repeating: _TapeNode(a: 0, b: 0, da: 0, db: 0), count: m)
        (kinds + start).update(repeating: .vectorOutput, count: m)
        (constants + start).update(repeating: 0, count: m)
        count += m
        return Int32(truncatingIfNeeded: start)
    }

    // MARK: Reverse sweep

    /// Sets every adjoint to zero.
    @inlinable
    mutating func clearAdjoints() {
        adjoints.update(repeating: 0, count: count)
    }

    /// The scalar part of the reverse sweep over slots `hi` down to `lo` (inclusive). A zero
    /// adjoint contributes nothing, even through an infinite local partial (the mirror of
    /// Dual's rule that a zero partial stays zero).
    @inlinable @inline(__always)
    mutating func sweepScalars(from hi: Int, downTo lo: Int) {
        // Local copies: stores through `adjoints` could otherwise alias these fields.
        let adjoints = self.adjoints, nodes = self.nodes
        var i = hi
        while i >= lo {
            let g = adjoints[i]
            if g != 0 {
                let n = nodes[i]
                adjoints[Int(n.a)] += g * n.da
                adjoints[Int(n.b)] += g * n.db
            }
            i &-= 1
        }
    }

    /// Propagates the adjoints seeded at the outputs back to every slot from `lowest` on (slot
    /// adjoints accumulate; call ``clearAdjoints()`` and seed first). Slots below `lowest` must
    /// be variables (which have no parents), so the sweep may stop there.
    @inlinable
    mutating func sweep(downTo lowest: Int = 1) {
        var i = count - 1
        if vectorOps.isEmpty {
            sweepScalars(from: i, downTo: lowest)
            return
        }
        var k = vectorOps.count - 1
        while k >= 0 {
            let op = vectorOps[k]
            sweepScalars(from: i, downTo: Int(op.output + op.outputCount))
            pullbackVector(op)
            i = Int(op.output) - 1
            k -= 1
        }
        sweepScalars(from: i, downTo: lowest)
    }

    // MARK: Replay

    /// Recomputes values and local partials of slots `lo..<hi` from their parents.
    @inlinable
    mutating func forwardScalars(_ lo: Int, _ hi: Int) {
        let values = self.values, nodes = self.nodes, kinds = self.kinds, constants = self.constants
        let adjoints = self.adjoints
        // One case per operation, each with its operation a literal, so that the formula's own
        // switch folds away and dispatch is a single jump.
        @inline(__always) func binary(_ op: _TapeOp, _ i: Int) {
            let n = nodes[i]
            let r = _TapeFormulas.binary(op, values[Int(n.a)], values[Int(n.b)])
            values[i] = r.value
            nodes[i].da = r.da
            nodes[i].db = r.db
        }
        @inline(__always) func unary(_ op: _TapeOp, _ i: Int) {
            let r = _TapeFormulas.unary(op, values[Int(nodes[i].a)], constants[i])
            values[i] = r.value
            nodes[i].da = r.d
        }
        var i = lo
        while i < hi {
            // Clearing the adjoint here saves the sweep's separate pass over the buffer.
            adjoints[i] = 0
            switch kinds[i] {
            case .sink, .input, .constant, .vectorOutput: break
            case .add: binary(.add, i)
            case .sub: binary(.sub, i)
            case .mul: binary(.mul, i)
            case .div: binary(.div, i)
            case .pow: binary(.pow, i)
            case .copy: unary(.copy, i)
            case .addConst: unary(.addConst, i)
            case .constSub: unary(.constSub, i)
            case .mulConst: unary(.mulConst, i)
            case .divConst: unary(.divConst, i)
            case .constDiv: unary(.constDiv, i)
            case .powConst: unary(.powConst, i)
            case .constPow: unary(.constPow, i)
            case .powInt: unary(.powInt, i)
            case .neg: unary(.neg, i)
            case .exp: unary(.exp, i)
            case .expm1: unary(.expm1, i)
            case .log: unary(.log, i)
            case .log1p: unary(.log1p, i)
            case .sin: unary(.sin, i)
            case .cos: unary(.cos, i)
            case .tan: unary(.tan, i)
            case .asin: unary(.asin, i)
            case .acos: unary(.acos, i)
            case .atan: unary(.atan, i)
            case .sinh: unary(.sinh, i)
            case .cosh: unary(.cosh, i)
            case .tanh: unary(.tanh, i)
            case .sqrt: unary(.sqrt, i)
            case .abs: unary(.abs, i)
            }
            i &+= 1
        }
    }

    /// Replays every recorded operation from slot `first` on, with the values currently in the
    /// input slots, and sets the adjoints of those slots to zero.
    @inlinable
    mutating func forward(from first: Int = 1) {
        var i = first
        var k = 0
        while k < vectorOps.count {
            let op = vectorOps[k]
            k += 1
            if Int(op.output) < first { continue }
            forwardScalars(i, Int(op.output))
            forwardVector(op)
            i = Int(op.output + op.outputCount)
        }
        forwardScalars(i, count)
    }

    /// The first recorded comparison whose outcome differs at the current values, if any.
    @inlinable
    mutating func firstChangedComparison() -> Int? {
        for k in comparisons.indices {
            let c = comparisons[k]
            let l = c.lhs >= 0 ? values[Int(c.lhs)] : c.lhsConstant
            let r = c.rhs >= 0 ? values[Int(c.rhs)] : c.rhsConstant
            if (c.isEquality ? l == r : l < r) != c.outcome { return k }
        }
        return nil
    }
}

/// A reverse-mode tape: records operations on ``Tracked`` scalars (and vector-level operations,
/// see ``TrackedVector``), then propagates a cotangent back to the variables.
///
/// ```swift
/// let tape = ReverseTape()
/// let x = tape.variables([1.0, 2.0])
/// let y = x[0] * sin(x[1])
/// tape.pullback(output: y)
/// let g = tape.variableAdjoints()         // [sin 2, cos 2]
/// try tape.replay(inputs: [3.0, 0.5])     // same operations, new values: no Swift code runs
/// tape.pullback(output: y)                // y now stands for the replayed value
/// ```
///
/// Threading: one tape per thread or task, never shared. A `Tracked` value holds an unmanaged
/// pointer to its tape's buffers; it is valid only while its tape is alive and until the tape's
/// next ``reset()``, and must not be used on another thread while the tape records, replays or
/// sweeps. (`Tracked` is `Sendable` only because the scalar protocol requires it.) Nothing is
/// global or thread-local, so independent tapes on different threads never interact.
///
/// Reuse rule: ``replay(inputs:)`` is valid when the operations executed do not depend on the
/// values of the variables. The tape checks what it can: every comparison made on tracked values
/// (`<`, `<=`, `>`, `>=`, `==`, `!=`, and so `min`, `max` and `if` on them) is re-evaluated after a
/// replay, and a changed outcome throws ``ReverseModeError/branchChanged(comparison:)``; reading
/// a tracked value as a `Double` through the scalar protocol (`primal`, `sumOfSquaredComponents`,
/// `isFiniteScalar`) makes the recording non-replayable
/// (``ReverseModeError/notReplayable``). Not detectable: branching on ``Tracked/value`` read
/// directly, and anything outside the tracked values (globals, random numbers, a loop count taken
/// from elsewhere). `abs` and the vector activations are single operations whose derivative is
/// recomputed on replay, so they never invalidate a tape.
public final class ReverseTape {
    @usableFromInline let storage: UnsafeMutablePointer<_TapeStorage>

    /// A tape with room for `capacity` values before it first grows.
    public init(capacity: Int = 1024) {
        storage = .allocate(capacity: 1)
        storage.initialize(to: _TapeStorage(capacity: capacity))
    }

    deinit {
        storage.pointee.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// Forgets the recording (keeping the memory). Every `Tracked` value of the previous
    /// recording becomes invalid.
    @inlinable
    public func reset() { storage.pointee.reset() }

    /// A new independent variable with value `x`.
    @inlinable
    public func variable(_ x: Double) -> Tracked {
        Tracked(value: x, index: storage.pointee.pushInput(x), tape: storage)
    }

    /// New independent variables, one per entry of `xs`.
    @inlinable
    public func variables(_ xs: [Double]) -> [Tracked] {
        xs.map { variable($0) }
    }

    /// Number of recorded values, including the variables and the internal sink.
    public var count: Int { storage.pointee.count }

    /// Number of vector-level operations recorded.
    public var vectorOperationCount: Int { storage.pointee.vectorOps.count }

    /// Number of comparisons recorded (each is re-checked by ``replay(inputs:)``).
    public var comparisonCount: Int { storage.pointee.comparisons.count }

    /// `false` when a tracked value was read as a `Double` through the scalar protocol while
    /// recording, so a replay cannot be trusted.
    public var isReplayable: Bool { !storage.pointee.valueEscaped }

    /// Re-evaluates the recorded operations with new values for the variables (in the order
    /// they were created), without running the recorded Swift code. Afterwards ``value(of:)``
    /// gives the new values and ``pullback(outputs:cotangent:)`` differentiates at the new point.
    ///
    /// Throws ``ReverseModeError/branchChanged(comparison:)`` when a comparison recorded on
    /// tracked values has a different outcome at the new values (record again: the tape no
    /// longer describes the function there), ``ReverseModeError/notReplayable`` when the
    /// recording read a tracked value as a `Double`.
    public func replay(inputs: [Double]) throws(ReverseModeError) {
        let s = storage
        guard !s.pointee.valueEscaped else { throw .notReplayable }
        guard inputs.count == s.pointee.inputs.count else {
            throw .dimensionMismatch(what: "inputs", expected: s.pointee.inputs.count, got: inputs.count)
        }
        for (k, i) in s.pointee.inputs.enumerated() { s.pointee.values[Int(i)] = inputs[k] }
        s.pointee.forward()
        if let k = s.pointee.firstChangedComparison() { throw .branchChanged(comparison: k) }
    }

    /// The current value of `x` (after a replay, the replayed value).
    @inlinable
    public func value(of x: Tracked) -> Double {
        x.tape == storage ? storage.pointee.values[Int(x.index)] : x.value
    }

    /// Clears the adjoints, seeds `output` with `seed` and sweeps back.
    public func pullback(output: Tracked, seed: Double = 1) {
        let s = storage
        s.pointee.clearAdjoints()
        if output.tape == s { s.pointee.adjoints[Int(output.index)] += seed }
        s.pointee.sweep()
    }

    /// Clears the adjoints, seeds each output with its cotangent entry and sweeps back: afterwards
    /// ``adjoint(of:)`` is `vᵀ ∂y/∂x`. Outputs that are constants contribute nothing.
    public func pullback(outputs: [Tracked], cotangent v: [Double]) throws(ReverseModeError) {
        guard v.count == outputs.count else {
            throw .dimensionMismatch(what: "cotangent", expected: outputs.count, got: v.count)
        }
        let s = storage
        s.pointee.clearAdjoints()
        for (y, w) in zip(outputs, v) where y.tape == s { s.pointee.adjoints[Int(y.index)] += w }
        s.pointee.sweep()
    }

    /// The adjoint of `x` left by the last pullback (0 for a constant).
    @inlinable
    public func adjoint(of x: Tracked) -> Double {
        x.tape == storage ? storage.pointee.adjoints[Int(x.index)] : 0
    }

    /// The adjoints of the variables, in the order they were created.
    public func variableAdjoints() -> [Double] {
        let s = storage
        return s.pointee.inputs.map { s.pointee.adjoints[Int($0)] }
    }
}
