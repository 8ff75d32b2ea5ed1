import DenseLinearAlgebra
import DiffEqCore
import NeuralDE
import NeuralNetworks
import AutoDiff

/// A right-hand side seen as a function of `x = [u; p]` at fixed `t`, so that the forward-mode
/// `jacobian(of:at:)` gives `[∂f/∂u  ∂f/∂p]`.
struct ReverseTestRHSFunction<M: ODEModel>: VectorFunction {
    let model: M
    let stateCount: Int
    let t: Double

    func callAsFunction<S: DiffEqScalar>(_ x: [S]) -> [S] {
        let u = Array(x[0..<stateCount])
        let p = Array(x[stateCount...])
        var du = [S](repeating: .zero, count: stateCount)
        model.rhs(&du, u, p, S(t))
        return du
    }
}

/// `Jᵀ v` with `J` from forward mode (duals), split into the `u` and `p` parts, and the scale
/// `Σ_i |J_ij v_i|` of each entry (what rounding errors are relative to).
func forwardRHSVJP<M: ODEModel>(
    _ model: M, u: [Double], p: [Double], t: Double, v: [Double]
) -> (du: [Double], dp: [Double], scale: [Double]) {
    let J = jacobian(of: ReverseTestRHSFunction(model: model, stateCount: u.count, t: t), at: u + p)
    var jtv = [Double](repeating: 0, count: J.columns)
    var scale = [Double](repeating: 0, count: J.columns)
    for j in 0..<J.columns {
        for i in 0..<J.rows {
            jtv[j] += J[i, j] * v[i]
            scale[j] += Swift.abs(J[i, j] * v[i])
        }
    }
    return (Array(jtv[0..<u.count]), Array(jtv[u.count...]), scale)
}

/// Deterministic pseudo-random numbers in [-1, 1) (a 64-bit LCG), for parameters and inputs.
struct ReverseTestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 52) - 1
    }
    mutating func array(_ n: Int, scale: Double = 1) -> [Double] { (0..<n).map { _ in scale * next() } }
}

/// `du = W2 act(W1 u + b1) + b2`, parameters flattened in `p` (the layout of `denseLayer`).
struct ReverseTestMLP: ODEModel {
    let inputs: Int
    let hidden: Int
    let activation: Activation

    var parameterCount: Int {
        denseParameterCount(inputs: inputs, outputs: hidden) + denseParameterCount(inputs: hidden, outputs: inputs)
    }

    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let h = denseLayer(u, parameters: p, offset: 0, outputs: hidden, activation: activation)
        denseLayer(h, parameters: p, offset: denseParameterCount(inputs: inputs, outputs: hidden), into: &du)
    }
}

/// The same network written with scalar operations only (no vector tape entries).
struct ReverseTestScalarMLP: ODEModel {
    let inputs: Int
    let hidden: Int

    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let n = inputs, m = hidden
        var h = [S](repeating: .zero, count: m)
        for i in 0..<m {
            var s = p[m * n + i]
            for j in 0..<n { s += p[i + j * m] * u[j] }
            h[i] = tanh(s)
        }
        let o = m * n + m
        for i in 0..<n {
            var s = p[o + n * m + i]
            for j in 0..<m { s += p[o + i + j * n] * h[j] }
            du[i] = s
        }
    }
}

func reverseTestClose(_ a: Double, _ b: Double, scale: Double, rtol: Double = 1e-13) -> Bool {
    Swift.abs(a - b) <= rtol * Swift.max(scale, Swift.abs(b), 1e-300)
}
