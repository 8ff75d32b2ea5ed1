// Losses of a trajectory against data, and the bridge from a solve layer to the training loop.

public import NeuralNetworks
public import Sensitivity
public import DiffEqCore

/// `L = Σ_k Σ_i (u_i(t_k) − d_{k,i})²` over every saved state against `data` (the spiral
/// protocol's loss), with `∂L/∂u(t_k) = 2 (u(t_k) − d_k)`. The data are checked once, at `init`.
public struct SquaredErrorLoss: Sendable {
    public let data: [[Double]]

    /// Throws for NaN or infinite data, empty data, or rows of different lengths.
    public init(data: [[Double]]) throws(NeuralDEError) {
        guard let width = data.first?.count, width > 0 else {
            throw .wrongLength(what: "data", expected: 1, got: 0)
        }
        for (k, row) in data.enumerated() {
            try _requireLength(row, width, "data[\(k)]")
            try _requireFinite(row, "data[\(k)]")
        }
        self.data = data
    }

    /// The loss of `states` (one row per save time, as many as the data) and its cotangents.
    @inlinable
    public func callAsFunction(_ states: [[Double]], _ cotangents: inout [[Double]]) throws(NeuralDEError) -> Double {
        guard states.count == data.count else {
            throw .wrongLength(what: "saved states", expected: data.count, got: states.count)
        }
        guard cotangents.count == data.count else {
            throw .wrongLength(what: "cotangents", expected: data.count, got: cotangents.count)
        }
        var s = 0.0
        for k in 0..<data.count {
            try _requireLength(states[k], data[k].count, "states[\(k)]")
            for i in 0..<data[k].count {
                let r = states[k][i] - data[k][i]
                s += r * r
                cotangents[k][i] = 2 * r
            }
        }
        return s
    }
}

extension SolveLayer {
    /// The training loop's closure (``LossAndGradient``) for parameters `p` from `u0`: a forward
    /// solve, the loss of its states, and `∂L/∂p` by the layer's `sensealg`.
    @inlinable
    public func lossAndGradient(
        u0: [Double], loss: @escaping (_ states: [[Double]], _ cotangents: inout [[Double]]) throws -> Double
    ) -> LossAndGradient<Double> {
        { p, g in
            let (value, result) = try self.valueAndGradient(u0: u0, p: p, loss: loss)
            for k in 0..<Swift.min(g.count, result.dp.count) { g[k] = result.dp[k] }
            return value
        }
    }
}

extension SolveLayer {
    /// The closure for a `Float` training loop (a `Float` network's parameters, an optimizer in
    /// `Float`): the parameters are widened to `Double` (exactly), the layer runs in `Double`,
    /// and `∂L/∂p` is rounded to `Float`; the loss is computed in `Double` and rounded.
    ///
    /// ```swift
    /// let objective = layer.lossAndGradient(Float.self, u0: [2, 0]) { states, c in try loss(states, &c) }
    /// ```
    @inlinable
    public func lossAndGradient(
        _: Float.Type, u0: [Float], loss: @escaping (_ states: [[Double]], _ cotangents: inout [[Double]]) throws -> Double
    ) -> LossAndGradient<Float> {
        let x = _widened(u0)
        var q = [Double](repeating: 0, count: parameterCount)
        return { p, g in
            guard p.count == q.count else {
                throw NeuralDEError.wrongLength(what: "p", expected: q.count, got: p.count)
            }
            for k in 0..<p.count { q[k] = Double(p[k]) }
            let (value, result) = try self.valueAndGradient(u0: x, p: q, loss: loss)
            for k in 0..<Swift.min(g.count, result.dp.count) { g[k] = Float(result.dp[k]) }
            return Float(value)
        }
    }
}
