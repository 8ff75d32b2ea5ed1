public import AutoDiff
public import DiffEqCore
public import NeuralNetworks

// A dense layer written inside a generic right-hand side (`ODEModel.rhs` over any
// `DiffEqScalar`), for models that mix a small network with known physics; a whole network is
// better given as a `Chain` through ``NetworkRHS``, whose pullback is hand-written over BLAS.
// On AutoDiff's `Tracked` scalar a layer records two vector-level tape entries (the affine map
// and the activation; see AutoDiff's `TrackedVector`) instead of one entry per multiply-add.

/// Number of parameters of a dense layer: `outputs * inputs` weights and `outputs` biases.
@inlinable
public func denseParameterCount(inputs: Int, outputs: Int) -> Int { outputs * inputs + outputs }

/// `activation(W x + b)` for any scalar, with `W` (`outputs x x.count`, column-major) followed by
/// `b` (`outputs` entries) stored in `p` from `offset` on, so that a network's parameters are one
/// flat vector. On AutoDiff's `Tracked` scalars this records two vector-level tape entries
/// (`identity` none, activations other than `tanh`, `sigmoid` and `relu` one scalar entry per
/// element); on `Double`, `Float` and `Dual` it runs plain loops. `.gelu` needs the error
/// function, which `DiffEqScalar` does not have, and gives NaN (use `.geluTanh`).
///
/// ```swift
/// struct NeuralRHS: ODEModel {   // du = W2 tanh(W1 u + b1) + b2, 2-50-2
///     func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
///         let h = denseLayer(u, parameters: p, offset: 0, outputs: 50, activation: .tanh)
///         denseLayer(h, parameters: p, offset: denseParameterCount(inputs: 2, outputs: 50), into: &du)
///     }
/// }
/// ```
@inlinable
public func denseLayer<S: DiffEqScalar>(
    _ x: [S], parameters p: [S], offset: Int, outputs m: Int, activation: Activation = .identity
) -> [S] {
    var y = [S](repeating: .zero, count: m)
    denseLayer(x, parameters: p, offset: offset, activation: activation, into: &y)
    return y
}

/// ``denseLayer(_:parameters:offset:outputs:activation:)`` writing its `y.count` outputs into `y`.
@inlinable
public func denseLayer<S: DiffEqScalar>(
    _ x: [S], parameters p: [S], offset: Int, activation: Activation = .identity, into y: inout [S]
) {
    let m = y.count, n = x.count
    precondition(
        offset >= 0 && offset + denseParameterCount(inputs: n, outputs: m) <= p.count,
        "denseLayer: p has \(p.count) entries, the layer needs \(denseParameterCount(inputs: n, outputs: m)) from offset \(offset)")
    if S.self == Tracked.self {
        let xt = unsafeBitCast(x, to: [Tracked].self)
        let pt = unsafeBitCast(p, to: [Tracked].self)
        if let out = _trackedDense(xt, pt, offset: offset, outputs: m, activation: activation) {
            for i in 0..<m { y[i] = unsafeBitCast(out[i], to: S.self) }
            return
        }
    }
    _genericDense(x, p, offset: offset, activation: activation, into: &y)
}

/// The Tracked path of `denseLayer`: `nil` when no operand is tracked (all constants).
@inlinable
func _trackedDense(_ x: [Tracked], _ p: [Tracked], offset: Int, outputs m: Int, activation: Activation) -> [Tracked]? {
    let n = x.count
    let wEnd = offset + m * n
    return x.withUnsafeBufferPointer { xb in
        p.withUnsafeBufferPointer { pb -> [Tracked]? in
            let w = UnsafeBufferPointer(rebasing: pb[offset..<wEnd])
            let b = UnsafeBufferPointer(rebasing: pb[wEnd..<(wEnd + m)])
            guard
                let anchor = TrackedVector._tapeAnchor(xb) ?? TrackedVector._tapeAnchor(w) ?? TrackedVector._tapeAnchor(b)
            else { return nil }
            let affine = TrackedVector(xb, onTapeOf: anchor).affine(
                weights: TrackedVector(w, onTapeOf: anchor), bias: TrackedVector(b, onTapeOf: anchor))
            switch activation {
            case .identity: return affine.elements
            case .tanh: return affine.tanh().elements
            case .sigmoid: return affine.sigmoid().elements
            case .relu: return affine.relu().elements
            default: return affine.elements.map { _activate(activation, $0) }
            }
        }
    }
}

@inlinable
func _genericDense<S: DiffEqScalar>(_ x: [S], _ p: [S], offset: Int, activation: Activation, into y: inout [S]) {
    let m = y.count, n = x.count
    let wEnd = offset + m * n
    for i in 0..<m { y[i] = p[wEnd + i] }
    for j in 0..<n {
        let xj = x[j]
        let col = offset + j * m
        for i in 0..<m { y[i] += p[col + i] * xj }
    }
    switch activation {
    case .identity: break
    case .tanh: for i in 0..<m { y[i] = S.tanh(y[i]) }
    case .relu: for i in 0..<m where !(y[i] > S.zero) { y[i] = .zero }
    case .sigmoid: for i in 0..<m { y[i] = S(1.0) / (S(1.0) + S.exp(-y[i])) }
    default: for i in 0..<m { y[i] = _activate(activation, y[i]) }
    }
}
