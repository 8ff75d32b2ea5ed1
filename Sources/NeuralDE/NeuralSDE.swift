// NeuralSDE(drift, diffusion, tspan, alg) as in DiffEqFlux.jl: two networks as drift and
// diagonal diffusion, their flat parameters concatenated as the problem's parameters, the
// solution at the save times on one seeded Brownian path as the output (Li, Wong, Chen &
// Duvenaud, "Scalable gradients for stochastic differential equations", AISTATS 2020; Tzen &
// Raginsky, "Neural stochastic differential equations", 2019).

public import DiffEqCore
public import NeuralNetworks
public import Sensitivity
public import StochasticDE
public import StochasticSensitivity

/// Drift and diagonal diffusion from two networks, `du = f_θ(u) dt + g_φ(u) ∘ dW` with
/// `p = [θ; φ]`: an SDE model (generic evaluation, so duals flow through for pathwise forward
/// mode) with the networks' own pullbacks as its products (``SDEModelWithVJP``), which
/// ``SDEDiscreteAdjoint`` and ``SDEBacksolveAdjoint`` use instead of dual numbers.
///
/// Performance: the products copy `θ` and `φ` into the workspace and allocate nothing; the
/// generic evaluation reads each network's range of `p` in place.
public struct NetworkSDE: SDEModelWithVJP, Sendable {
    public let driftNetwork: NetworkRHS<Double>
    public let diffusionNetwork: NetworkRHS<Double>
    /// Parameters of the drift network (the first entries of `p`).
    public let driftParameterCount: Int

    public init(drift: Chain<Double>, diffusion: Chain<Double>) throws(NeuralDEError) {
        driftNetwork = try NetworkRHS(drift)
        diffusionNetwork = try NetworkRHS(diffusion)
        guard drift.inputCount == diffusion.inputCount else {
            throw .unsupportedNetwork(
                "the drift maps \(drift.inputCount) entries and the diffusion \(diffusion.inputCount); diagonal noise needs the same state size")
        }
        driftParameterCount = drift.parameterCount
    }

    /// `n`.
    @inlinable public var stateCount: Int { driftNetwork.chain.inputCount }
    /// `θ` and `φ` together.
    @inlinable public var parameterCount: Int { driftParameterCount + diffusionNetwork.chain.parameterCount }

    @inlinable
    public func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        Self.evaluate(driftNetwork, &du, u, p, parameters: 0..<driftParameterCount)
    }

    @inlinable
    public func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        Self.evaluate(diffusionNetwork, &g, u, p, parameters: driftParameterCount..<parameterCount)
    }

    /// `NetworkRHS.rhs` on the range of `p` that holds the network's parameters, read in place
    /// (a slice copied into an array of its own was an allocation per evaluation).
    @inlinable
    static func evaluate<S: DiffEqScalar>(
        _ network: NetworkRHS<Double>, _ out: inout [S], _ u: [S], _ p: [S], parameters range: Range<Int>
    ) {
        let n = network.chain.inputCount
        guard u.count == n, out.count == n, p.count >= range.upperBound, range.count == network.chain.parameterCount else {
            for i in out.indices { out[i] = S(Double.nan) }
            return
        }
        let width = network.totalWidth
        withUnsafeTemporaryAllocation(of: S.self, capacity: width) { slots in
            let v = slots.baseAddress!
            v.initialize(repeating: S.zero, count: width)
            u.withUnsafeBufferPointer { u in for i in 0..<n { v[i] = u[i] } }
            p.withUnsafeBufferPointer { whole in
                network._run(v, UnsafeBufferPointer(rebasing: whole[range]), activate: _activate(_:_:_:count:))
            }
            let result = v + network.slotStarts[network.slotStarts.count - 1]
            out.withUnsafeMutableBufferPointer { d in for i in 0..<n { d[i] = result[i] } }
            v.deinitialize(count: width)
        }
    }

    /// Both networks' workspaces and the split parameter and product buffers.
    public struct VJPWorkspace {
        @usableFromInline var drift: NetworkRHS<Double>.VJPWorkspace
        @usableFromInline var diffusion: NetworkRHS<Double>.VJPWorkspace
        @usableFromInline var theta: [Double]
        @usableFromInline var phi: [Double]
        @usableFromInline var dtheta: [Double]
        @usableFromInline var dphi: [Double]
    }

    public func makeVJPWorkspace(stateCount n: Int, parameters p: [Double]) -> VJPWorkspace {
        let nTheta = driftParameterCount
        let nPhi = diffusionNetwork.chain.parameterCount
        return VJPWorkspace(
            drift: driftNetwork.makeVJPWorkspace(stateCount: n, parameters: []),
            diffusion: diffusionNetwork.makeVJPWorkspace(stateCount: n, parameters: []),
            theta: [Double](repeating: 0, count: nTheta), phi: [Double](repeating: 0, count: nPhi),
            dtheta: [Double](repeating: 0, count: nTheta), dphi: [Double](repeating: 0, count: nPhi))
    }

    public func driftVJP(
        _ w: inout VJPWorkspace, u: [Double], p: [Double], t: Double, v: [Double], du: inout [Double], dp: inout [Double]
    ) {
        let nTheta = driftParameterCount
        for k in 0..<nTheta { w.theta[k] = p[k] }
        _networkVJP(driftNetwork, &w.drift, u: u, p: w.theta, v: v, du: &du, dp: &w.dtheta)
        for k in 0..<nTheta { dp[k] = w.dtheta[k] }
        for k in nTheta..<dp.count { dp[k] = 0 }
    }

    public func diffusionVJP(
        _ w: inout VJPWorkspace, u: [Double], p: [Double], t: Double, v: [Double], du: inout [Double], dp: inout [Double]
    ) {
        let nTheta = driftParameterCount
        for k in 0..<w.phi.count { w.phi[k] = p[nTheta + k] }
        _networkVJP(diffusionNetwork, &w.diffusion, u: u, p: w.phi, v: v, du: &du, dp: &w.dphi)
        for k in 0..<nTheta { dp[k] = 0 }
        for k in 0..<w.dphi.count { dp[nTheta + k] = w.dphi[k] }
    }
}

/// One network's product through its unsafe-buffer form.
@inlinable
func _networkVJP(
    _ network: NetworkRHS<Double>, _ workspace: inout NetworkRHS<Double>.VJPWorkspace, u: [Double], p: [Double],
    v: [Double], du: inout [Double], dp: inout [Double]
) {
    u.withUnsafeBufferPointer { u in
        p.withUnsafeBufferPointer { p in
            v.withUnsafeBufferPointer { v in
                du.withUnsafeMutableBufferPointer { du in
                    dp.withUnsafeMutableBufferPointer { dp in
                        network.vjp(&workspace, u: u, p: p, t: 0, v: v, du: du, dp: dp)
                    }
                }
            }
        }
    }
}

/// A neural SDE on a fixed span, solved at the save times on the Brownian path of a seed:
///
/// ```swift
/// let drift = try Chain<Double>(.dense(2, 16, .tanh), .dense(16, 2))
/// let diffusion = try Chain<Double>(.dense(2, 2, .sigmoid))
/// let sde = try NeuralSDE(drift: drift, diffusion: diffusion, tspan: (0, 1), EulerHeun(),
///                         saveat: .every(0.1), dt: 0x1p-7)
/// var p = sde.initialParameters(seed: 0)
/// let states = try sde([1, 0.5], parameters: p, seed: 3)     // one per save time
/// let r = try sde.gradient(of: loss, u0: [1, 0.5], parameters: p, seed: 3)   // r.loss, r.dp, r.du0
/// ```
///
/// The path of seed `s` is the ``VirtualBrownianTree`` of `s` on the span (with the auxiliary
/// process when the method needs one), with leaves 1/64 of `dt` wide: the solve and the
/// gradient's backward pass read the same path, and the same seed gives the same bits. The
/// default `sensealg` is ``SDEDiscreteAdjoint`` (the exact derivative of the solve, products from
/// the networks' pullbacks, Itô or Stratonovich methods among EM, LambaEM, EulerHeun and the SRI
/// methods; memory two states per step), cheaper than ``SDEBacksolveAdjoint`` on the measured
/// case: a 2→16→2 tanh drift and 2→2 sigmoid diffusion, EulerHeun, 128 steps, 10 observations,
/// 5.02M instructions per gradient against the backsolve's 5.99M (callgrind, release, 3 minus 1
/// gradients over 2). ``SDEBacksolveAdjoint`` (memory independent of the number of steps, O(dt)
/// from the solve's derivative; Stratonovich methods unless the noise is additive) is the option
/// for very many steps, ``SDEForwardDiffSensitivity`` (duals through the solve) for small
/// networks. Fixed steps of `dt`.
public struct NeuralSDE<Algorithm: SDEAlgorithm, Method: SDESensitivityAlgorithm>: Sendable {
    public let model: NetworkSDE
    public let tspan: (Double, Double)
    public let algorithm: Algorithm
    public let sensealg: Method
    public let options: SolveOptions

    public init(
        drift: Chain<Double>, diffusion: Chain<Double>, tspan: (Double, Double), _ algorithm: Algorithm,
        saveat: SaveAt? = nil, dt: Double, sensealg: Method
    ) throws(NeuralDEError) {
        model = try NetworkSDE(drift: drift, diffusion: diffusion)
        guard tspan.0.isFinite, tspan.1.isFinite, tspan.1 > tspan.0 else {
            throw .invalidInput(.invalidTimeSpan(t0: tspan.0, t1: tspan.1))
        }
        guard dt.isFinite, dt > 0 else { throw .invalidInput(.invalidStepOption("dt must be positive and finite, got \(dt)")) }
        self.tspan = tspan
        self.algorithm = algorithm
        self.sensealg = sensealg
        options = SolveOptions(saveat: saveat, dt: dt, adaptive: false)
    }

    /// The drift's initial parameters followed by the diffusion's (seeded, as the chains'
    /// ``Chain/initialParameters(seed:)``).
    public func initialParameters(seed: UInt64) -> [Double] {
        model.driftNetwork.chain.initialParameters(seed: seed)
            + model.diffusionNetwork.chain.initialParameters(seed: seed &+ 1)
    }

    /// The leaf width of the Brownian trees: 1/64 of the step.
    @inlinable public var treeTolerance: Double { (options.dt ?? 1) / 64 }

    /// The Brownian path of `seed` on the span.
    @inlinable
    public func brownianTree(seed: UInt64) throws(NeuralDEError) -> VirtualBrownianTree {
        do {
            return try VirtualBrownianTree(
                t0: tspan.0, t1: tspan.1, dimension: model.stateCount, seed: seed, tolerance: treeTolerance,
                auxiliary: algorithm.scheme.needsAuxiliaryIncrement)
        } catch {
            throw .invalidInput(.unsupported("Brownian tree: \(error)"))
        }
    }

    @inlinable
    func problem(_ u0: [Double], _ p: [Double]) throws(NeuralDEError) -> SDEProblem<GenericSDE<NetworkSDE, Double>> {
        try _requireLength(u0, model.stateCount, "u0")
        try _requireLength(p, model.parameterCount, "parameters")
        try _requireFinite(u0, "u0")
        try _requireFinite(p, "parameters")
        return SDEProblem(model: model, u0: u0, tspan: tspan, p: p, noise: .diagonal)
    }

    /// The states at the save times (the end of the span when `saveat` is `nil`) on the path of
    /// `seed`.
    @inlinable
    public func callAsFunction(_ u0: [Double], parameters p: [Double], seed: UInt64) throws(NeuralDEError) -> [[Double]] {
        let prob = try problem(u0, p)
        let sol: ODESolution<Double>
        do {
            sol = try solve(prob, algorithm, noise: BrownianTreeNoise(brownianTree(seed: seed)), options: options)
        } catch let error as NeuralDEError {
            throw error
        } catch {
            throw .invalidInput(.unsupported("\(error)"))
        }
        guard sol.retcode.isSuccessful else { throw .solveFailed(retcode: sol.retcode, message: sol.message) }
        return sol.u
    }

    /// The loss `Σ_k g(u(t_k), t_k)` over the save times on the path of `seed`, and its gradient
    /// with respect to the parameters and `u0`, by ``sensealg``.
    @inlinable
    public func gradient(
        of loss: some PointLoss, u0: [Double], parameters p: [Double], seed: UInt64
    ) throws(NeuralDEError) -> SensitivityResult {
        let prob = try problem(u0, p)
        let tree = try brownianTree(seed: seed)
        do {
            return try StochasticSensitivity.gradient(
                of: loss, prob, algorithm: algorithm, noise: tree, options: options, sensealg: sensealg)
        } catch {
            throw .sensitivity(error)
        }
    }

    /// The mean loss over the paths of `seeds` and its gradient with respect to the parameters
    /// (and `u0`): the Monte Carlo estimate of `E[L]`'s gradient, one adjoint per path, summed
    /// in the order of `seeds` (the same bits for the same seeds).
    @inlinable
    public func meanGradient(
        of loss: some PointLoss, u0: [Double], parameters p: [Double], seeds: [UInt64]
    ) throws(NeuralDEError) -> SensitivityResult {
        guard !seeds.isEmpty else { throw .wrongLength(what: "seeds", expected: 1, got: 0) }
        let prob = try problem(u0, p)
        do {
            return try StochasticSensitivity.meanGradient(
                of: loss, prob, algorithm: algorithm, seeds: seeds, treeTolerance: treeTolerance, options: options,
                sensealg: sensealg)
        } catch {
            throw .sensitivity(error)
        }
    }
}

extension NeuralSDE where Method == SDEDiscreteAdjoint {
    /// The neural SDE with the default `sensealg`, ``SDEDiscreteAdjoint``.
    public init(
        drift: Chain<Double>, diffusion: Chain<Double>, tspan: (Double, Double), _ algorithm: Algorithm,
        saveat: SaveAt? = nil, dt: Double
    ) throws(NeuralDEError) {
        try self.init(
            drift: drift, diffusion: diffusion, tspan: tspan, algorithm, saveat: saveat, dt: dt,
            sensealg: SDEDiscreteAdjoint())
    }
}
