import DenseLinearAlgebra
import DiffEqCore

// Vector-level tape entries: a dense layer inside a right-hand side records a handful of
// entries (one affine map, one activation) instead of one per multiply-add, and their pullbacks
// are written by hand:
//
//     y = W x + b:   x̄ += Wᵀ ȳ (gemv),  W̄ += ȳ xᵀ (ger),  b̄ += ȳ
//     y = σ(x):      x̄ += ȳ ⊙ σ'(x)  with tanh' = 1 - y², sigmoid' = y (1 - y), relu' = [x > 0]
//
// Operands live in contiguous tape slots, so W is read straight from the parameter slots (the
// parameter vector p is recorded as one block of variables) and W̄ accumulates straight into
// their adjoints. Operands that are not contiguous are first copied into a block.
//
// BLAS or loops: for the small layers of a neural ODE a call into OpenBLAS costs more than the
// arithmetic, so products below `_blasMinimumWork` multiply-adds run as plain Swift loops; larger
// ones call cblas_dgemv, and the rank-one update W̄ += ȳ xᵀ calls cblas_dgemm with inner
// dimension 1 (a dger, which DenseLinearAlgebra does not wrap). Measured with
// Benchmarks/ad-bench on the 2-50-2 tanh MLP VJP: 1.1-1.3x the hand-written BLAS VJP with loops,
// 1.4-1.9x with every product sent to BLAS.

/// Below this many multiply-adds (`rows * columns`), affine maps and their pullbacks run as
/// Swift loops instead of BLAS calls.
@usableFromInline let _blasMinimumWork = 4096

extension _TapeStorage {
    /// `y += W x` with `W` `m x n` column-major.
    @usableFromInline
    static func _multiplyAdd(
        _ m: Int, _ n: Int, _ w: UnsafePointer<Double>, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>
    ) {
        if m * n >= _blasMinimumWork {
            Double._gemv(
                transposed: false, rows: Int32(m), columns: Int32(n), alpha: 1, w, leadingDimension: Int32(m),
                x, beta: 1, y)
            return
        }
        for j in 0..<n {
            let xj = x[j]
            let col = w + j * m
            for i in 0..<m { y[i] += col[i] * xj }
        }
    }

    /// `gx += Wᵀ gy` with `W` `m x n` column-major.
    @usableFromInline
    static func _multiplyTransposedAdd(
        _ m: Int, _ n: Int, _ w: UnsafePointer<Double>, _ gy: UnsafePointer<Double>, _ gx: UnsafeMutablePointer<Double>
    ) {
        if m * n >= _blasMinimumWork {
            Double._gemv(
                transposed: true, rows: Int32(m), columns: Int32(n), alpha: 1, w, leadingDimension: Int32(m),
                gy, beta: 1, gx)
            return
        }
        for j in 0..<n {
            let col = w + j * m
            // Four partial sums so the dot product is not one long dependency chain.
            var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
            var i = 0
            while i + 4 <= m {
                s0 += col[i] * gy[i]
                s1 += col[i + 1] * gy[i + 1]
                s2 += col[i + 2] * gy[i + 2]
                s3 += col[i + 3] * gy[i + 3]
                i += 4
            }
            while i < m {
                s0 += col[i] * gy[i]
                i += 1
            }
            gx[j] += (s0 + s1) + (s2 + s3)
        }
    }

    /// `gw += gy xᵀ` (`gw` `m x n` column-major), the rank-one update of BLAS `dger`.
    @usableFromInline
    static func _rankOneAdd(
        _ m: Int, _ n: Int, _ gy: UnsafePointer<Double>, _ x: UnsafePointer<Double>, _ gw: UnsafeMutablePointer<Double>
    ) {
        if m * n >= _blasMinimumWork {
            // C (m x n) += A (m x 1) B (1 x n): dgemm with inner dimension 1.
            Double._gemm(
                transposeA: false, transposeB: false, m: Int32(m), n: Int32(n), k: 1, alpha: 1,
                gy, leadingDimensionA: Int32(m), x, leadingDimensionB: 1, beta: 1, gw, leadingDimensionC: Int32(m))
            return
        }
        for j in 0..<n {
            let xj = x[j]
            let col = gw + j * m
            for i in 0..<m { col[i] += gy[i] * xj }
        }
    }

    /// Computes the outputs of a vector operation from its operands' current values.
    @usableFromInline
    mutating func forwardVector(_ op: _VectorOp) {
        (adjoints + Int(op.output)).update(repeating: 0, count: Int(op.outputCount))
        let y = values + Int(op.output)
        let m = Int(op.rows)
        let x = UnsafePointer(values + Int(op.x))
        switch op.kind {
        case .affine:
            if op.b >= 0 {
                y.update(from: values + Int(op.b), count: m)
            } else {
                y.update(repeating: 0, count: m)
            }
            _TapeStorage._multiplyAdd(m, Int(op.columns), values + Int(op.w), x, y)
        case .tanh:
            for i in 0..<m { y[i] = Double.tanh(x[i]) }
        case .sigmoid:
            for i in 0..<m { y[i] = 1 / (1 + Double.exp(-x[i])) }
        case .relu:
            for i in 0..<m { y[i] = x[i] > 0 ? x[i] : 0 }
        case .sum:
            var s = 0.0
            for i in 0..<m { s += x[i] }
            y[0] = s
        case .add:
            let w = values + Int(op.w)
            for i in 0..<m { y[i] = x[i] + w[i] }
        }
    }

    /// Accumulates the operands' adjoints from the outputs' adjoints.
    @usableFromInline
    mutating func pullbackVector(_ op: _VectorOp) {
        let gy = UnsafePointer(adjoints + Int(op.output))
        let y = values + Int(op.output)
        let m = Int(op.rows)
        let x = values + Int(op.x)
        let gx = adjoints + Int(op.x)
        switch op.kind {
        case .affine:
            let n = Int(op.columns)
            let w = values + Int(op.w)
            _TapeStorage._multiplyTransposedAdd(m, n, w, gy, gx)
            _TapeStorage._rankOneAdd(m, n, gy, x, adjoints + Int(op.w))
            if op.b >= 0 {
                let gb = adjoints + Int(op.b)
                for i in 0..<m { gb[i] += gy[i] }
            }
        case .tanh:
            for i in 0..<m { gx[i] += gy[i] * (1 - y[i] * y[i]) }
        case .sigmoid:
            for i in 0..<m { gx[i] += gy[i] * (y[i] * (1 - y[i])) }
        case .relu:
            for i in 0..<m where x[i] > 0 { gx[i] += gy[i] }
        case .sum:
            let g = gy[0]
            for i in 0..<m { gx[i] += g }
        case .add:
            let gw = adjoints + Int(op.w)
            for i in 0..<m {
                gx[i] += gy[i]
                gw[i] += gy[i]
            }
        }
    }

    /// The first slot of a contiguous block holding `xs`: the slots themselves when they
    /// already are consecutive on this tape (the usual case: a slice of the parameter vector, or
    /// the output of a previous layer), otherwise a new block of copies and constants.
    @usableFromInline
    mutating func contiguousBlock(
        _ xs: UnsafeBufferPointer<Tracked>, _ me: UnsafeMutablePointer<_TapeStorage>
    ) -> Int32 {
        let n = xs.count
        guard n > 0 else { return Int32(truncatingIfNeeded: count) }
        let s = xs[0].index
        if xs[0].tape == me {
            var k = 1
            while k < n, xs[k].tape == me, xs[k].index == s &+ Int32(truncatingIfNeeded: k) { k += 1 }
            if k == n { return s }
        }
        let start = pushBlock(n)
        for k in 0..<n {
            let i = Int(start) + k
            let e = xs[k]
            values[i] = e.value
            if let t = e.tape {
                precondition(t == me, "TrackedVector: elements recorded on different tapes")
                kinds[i] = .copy
                nodes[i] = _TapeNode(a: e.index, b: 0, da: 1, db: 0)
            } else {
                kinds[i] = .constant
            }
        }
        return start
    }

    /// Records a vector operation whose output block has `outputCount` slots and runs its
    /// forward pass.
    @usableFromInline
    mutating func recordVector(
        _ kind: _VectorOpKind, outputCount: Int, rows: Int, columns: Int, x: Int32, w: Int32, b: Int32
    ) -> Int32 {
        let out = pushBlock(outputCount)
        let op = _VectorOp(
            kind: kind, output: out, outputCount: Int32(outputCount), rows: Int32(rows), columns: Int32(columns),
            x: x, w: w, b: b)
        vectorOps.append(op)
        forwardVector(op)
        return out
    }
}

/// A vector of tracked values held in consecutive tape slots: the operand of the vector-level
/// tape entries (affine maps, activations, sums) whose pullbacks are hand-written over BLAS.
///
/// ```swift
/// // Inside code running on Tracked: a 2-50-2 tanh network, parameters flattened in p.
/// let x = TrackedVector(u)!
/// let h = x.affine(weights: TrackedVector(p[0..<100])!, bias: TrackedVector(p[100..<150])).tanh()
/// let y = h.affine(weights: TrackedVector(p[150..<250])!, bias: TrackedVector(p[250..<252]))
/// ```
///
/// Generic code reaches these entries through NeuralDE's `denseLayer(_:parameters:offset:outputs:activation:)`,
/// which records them when run on `Tracked` and runs plain loops otherwise.
///
/// Not `Sendable`: it points into its tape, which belongs to one thread.
public struct TrackedVector {
    @usableFromInline let tape: UnsafeMutablePointer<_TapeStorage>
    @usableFromInline let start: Int32
    /// Number of elements.
    public let count: Int

    @inlinable
    init(tape: UnsafeMutablePointer<_TapeStorage>, start: Int32, count: Int) {
        self.tape = tape
        self.start = start
        self.count = count
    }

    /// A vector of `elements`: a view of their slots when they are consecutive on the tape,
    /// otherwise a copy recorded as one block. `nil` when no element is tracked (there is no tape
    /// to record on; compute with plain arithmetic instead).
    @inlinable
    public init?<C: Collection>(_ elements: C) where C.Element == Tracked {
        guard let t = elements.first(where: { $0.tape != nil })?.tape else { return nil }
        let start =
            elements.withContiguousStorageIfAvailable { t.pointee.contiguousBlock($0, t) }
            ?? Array(elements).withUnsafeBufferPointer { t.pointee.contiguousBlock($0, t) }
        self.init(tape: t, start: start, count: elements.count)
    }

    /// A vector of `elements` recorded on the tape of `other`, whether or not any element is
    /// tracked (constants become constant slots): for operands of which only some are tracked.
    @inlinable
    package init(_ elements: UnsafeBufferPointer<Tracked>, onTapeOf other: TrackedVector) {
        let t = other.tape
        self.init(tape: t, start: t.pointee.contiguousBlock(elements, t), count: elements.count)
    }

    /// The vector of the first tracked element among `candidates` (its tape), or `nil` when none is.
    @inlinable
    package static func _tapeAnchor(_ candidates: UnsafeBufferPointer<Tracked>) -> TrackedVector? {
        guard let e = candidates.first(where: { $0.tape != nil }), let t = e.tape else { return nil }
        return TrackedVector(tape: t, start: e.index, count: 1)
    }

    /// Element `i` as a tracked scalar.
    @inlinable
    public subscript(i: Int) -> Tracked {
        precondition(i >= 0 && i < count, "TrackedVector index out of range")
        let slot = Int(start) + i
        return Tracked(value: tape.pointee.values[slot], index: Int32(truncatingIfNeeded: slot), tape: tape)
    }

    /// The elements as tracked scalars.
    @inlinable
    public var elements: [Tracked] { (0..<count).map { self[$0] } }

    /// The current values.
    @inlinable
    public var values: [Double] { (0..<count).map { tape.pointee.values[Int(start) + $0] } }

    /// `W x + b`, where `x` is this vector, `weights` holds `W` (`m x count`, column-major; `m`
    /// is `weights.count / count`) and `bias` holds `b` (`m` entries) when given. One tape entry.
    @inlinable
    public func affine(weights: TrackedVector, bias: TrackedVector? = nil) -> TrackedVector {
        precondition(count > 0 && weights.count % count == 0, "affine: weights.count must be a multiple of x.count")
        precondition(weights.tape == tape && (bias == nil || bias!.tape == tape), "affine: operands on different tapes")
        let m = weights.count / count
        precondition(bias == nil || bias!.count == m, "affine: bias.count must be weights.count / x.count")
        let out = tape.pointee.recordVector(
            .affine, outputCount: m, rows: m, columns: count, x: start, w: weights.start, b: bias?.start ?? -1)
        return TrackedVector(tape: tape, start: out, count: m)
    }

    /// `tanh` of every element (one tape entry; pullback `ȳ (1 - y²)`).
    @inlinable
    public func tanh() -> TrackedVector { _elementwise(.tanh) }

    /// The logistic function `1 / (1 + e^-x)` of every element (one tape entry; pullback
    /// `ȳ y (1 - y)`).
    @inlinable
    public func sigmoid() -> TrackedVector { _elementwise(.sigmoid) }

    /// `max(x, 0)` of every element (one tape entry; derivative 0 at 0).
    @inlinable
    public func relu() -> TrackedVector { _elementwise(.relu) }

    @inlinable
    func _elementwise(_ kind: _VectorOpKind) -> TrackedVector {
        let out = tape.pointee.recordVector(kind, outputCount: count, rows: count, columns: 1, x: start, w: -1, b: -1)
        return TrackedVector(tape: tape, start: out, count: count)
    }

    /// The sum of the elements (one tape entry).
    @inlinable
    public func sum() -> Tracked {
        let out = tape.pointee.recordVector(.sum, outputCount: 1, rows: count, columns: 1, x: start, w: -1, b: -1)
        return Tracked(value: tape.pointee.values[Int(out)], index: out, tape: tape)
    }

    /// Elementwise sum (one tape entry).
    @inlinable
    public static func + (a: TrackedVector, b: TrackedVector) -> TrackedVector {
        precondition(a.count == b.count && a.tape == b.tape, "TrackedVector +: lengths or tapes differ")
        let out = a.tape.pointee.recordVector(.add, outputCount: a.count, rows: a.count, columns: 1, x: a.start, w: b.start, b: -1)
        return TrackedVector(tape: a.tape, start: out, count: a.count)
    }
}

// MARK: Generic reductions (any scalar; a vector tape entry for Tracked)

/// The sum of the elements: one tape entry on ``Tracked``, a loop otherwise.
@inlinable
public func sumOfElements<S: DiffEqScalar>(_ xs: [S]) -> S {
    if S.self == Tracked.self, let v = TrackedVector(unsafeBitCast(xs, to: [Tracked].self)) {
        return unsafeBitCast(v.sum(), to: S.self)
    }
    var s = S.zero
    for x in xs { s += x }
    return s
}
