// The gradient of a loss of an SDE solution on one fixed Brownian path with respect to the
// parameters and the initial state: the pathwise derivative (the "reparameterisation" gradient
// of one sample), as `Zygote.gradient` over `solve(prob, alg; sensealg)` for an SDEProblem in
// SciMLSensitivity.jl. Same loss (`PointLoss`), result and error types as Sensitivity's ODE
// gradients, so a training loop handles both alike.
//
// Why a module of its own: Sensitivity knows nothing of SDEs and StochasticDE nothing of
// gradients (DESIGN.md, the module table); this module is the one place that sees both, so
// neither an SDE solve nor an ODE gradient pays for the other's compile time.

public import DiffEqCore
public import Sensitivity
public import StochasticDE

/// How the pathwise gradient of a loss of an SDE solution is computed (the SDE counterpart of
/// Sensitivity's `SensitivityAlgorithm`): ``SDEBacksolveAdjoint`` (memory independent of the
/// number of steps), ``SDEDiscreteAdjoint`` (the exact derivative of the solve's steps; bounded
/// memory with ``SDECheckpointing/binomial(_:)``) or ``SDEForwardDiffSensitivity`` (duals
/// through the solve).
public protocol SDESensitivityAlgorithm: Sendable {
    var name: String { get }
    /// Computes the gradient; called by
    /// ``gradient(of:_:algorithm:noise:options:sensealg:wrt:)``, which has checked the inputs.
    func gradient<M: SDEModel, L: PointLoss, A: SDEAlgorithm>(
        of loss: L, _ problem: SDEProblem<GenericSDE<M, Double>>, algorithm: A, noise: VirtualBrownianTree,
        plan: SDEObservationPlan
    ) throws(SensitivityError) -> SensitivityResult
}

/// The resolved data of an SDE gradient: span, observation times (ascending), the forward
/// solve's options (saving at the observation times only) and what the gradient is taken with
/// respect to.
public struct SDEObservationPlan: Sendable {
    public let t0: Double
    public let t1: Double
    public let times: [Double]
    public let options: SolveOptions
    public let inputs: GradientInputs

    /// Checks the span, the observation times and the tree (all before any work).
    /// `saveat: nil` observes the end of the span only.
    public init<F: SDEFunction>(
        _ problem: SDEProblem<F>, noise tree: VirtualBrownianTree, options: SolveOptions, wrt inputs: GradientInputs
    ) throws(SensitivityError) {
        let (t0, t1) = problem.tspan
        guard t0.isFinite, t1.isFinite, t1 > t0 else {
            throw .invalidInput(.invalidTimeSpan(t0: t0, t1: t1))
        }
        guard !problem.u0.isEmpty else { throw .invalidInput(.emptyState) }
        var times: [Double]
        switch options.saveat {
        case nil: times = [t1]
        case .times(let ts): times = ts.sorted()
        case .every(let d):
            guard d.isFinite, d > 0 else { throw .invalidInput(.invalidSaveAt("saveat every \(d): the interval must be positive")) }
            // Each observation is a stored state: refuse a count no memory holds rather than
            // loop towards it.
            guard (t1 - t0) / d <= 1e7 else {
                throw .invalidInput(.invalidSaveAt("saveat every \(d) on [\(t0), \(t1)] asks for more than 10⁷ observations"))
            }
            times = []
            var k = 0.0
            while t0 + k * d < t1 {
                times.append(t0 + k * d)
                k += 1
            }
            times.append(t1)
        }
        guard !times.isEmpty else {
            throw .invalidInput(.invalidSaveAt("no observation times (saveat is empty), so the loss has no terms"))
        }
        if let bad = times.first(where: { !($0 >= t0 && $0 <= t1) }) {
            throw .invalidInput(.invalidSaveAt("observation time \(bad) outside the span [\(t0), \(t1)]"))
        }
        guard tree.t0 == t0 else {
            throw .unsupported("the Brownian tree starts at \(tree.t0), the problem at t0 = \(t0)")
        }
        guard tree.t1 >= t1 else {
            throw .unsupported("the Brownian tree ends at \(tree.t1), before the problem's t1 = \(t1)")
        }
        guard tree.wienerCount == problem.wienerCount else {
            throw .unsupported("the problem has \(problem.wienerCount) Wiener processes, the tree \(tree.wienerCount)")
        }
        var opts = options
        opts.saveat = .times(times)
        opts.saveEverystep = false
        opts.dense = false
        self.t0 = t0
        self.t1 = t1
        self.times = times
        self.options = opts
        self.inputs = inputs
    }
}

/// The pathwise gradient of `L = Σ_k g(u(t_k), t_k)` (the observation times `t_k` are
/// `options.saveat`, or the end of the span) on the Brownian path of `noise`, with respect to
/// the parameters and the initial state, by `sensealg`:
///
/// ```swift
/// let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 7, tolerance: 0x1p-14)
/// let prob = SDEProblem(model: GBM(), u0: [0.5], tspan: (0, 1), p: [1.01, 0.87])
/// let r = try gradient(
///     of: SumOfSquaresLoss(), prob, algorithm: EulerHeun(), noise: tree,
///     options: SolveOptions(saveat: .times([0.5, 1]), dt: 0x1p-10, adaptive: false),
///     sensealg: SDEBacksolveAdjoint())
/// r.dp; r.du0; r.stats
/// ```
///
/// The path is a function of the tree alone, so the same call gives the same bits, and a
/// difference quotient of two solves on the same tree differentiates the same sample path.
@inlinable
public func gradient<M: SDEModel, L: PointLoss, A: SDEAlgorithm, S: SDESensitivityAlgorithm>(
    of loss: L, _ problem: SDEProblem<GenericSDE<M, Double>>, algorithm: A, noise: VirtualBrownianTree,
    options: SolveOptions, sensealg: S, wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    let plan = try SDEObservationPlan(problem, noise: noise, options: options, wrt: inputs)
    var r = try sensealg.gradient(of: loss, problem, algorithm: algorithm, noise: noise, plan: plan)
    if inputs == .parameters { r.du0 = [] }
    guard r.loss.isFinite else { throw .nonFiniteResult("the loss is \(r.loss) (\(r.method))") }
    if let k = r.dp.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteResult("dL/dp[\(k)] is \(r.dp[k]) (\(r.method))") }
    if let k = r.du0.firstIndex(where: { !$0.isFinite }) {
        throw .nonFiniteResult("dL/du0[\(k)] is \(r.du0[k]) (\(r.method))")
    }
    return r
}

/// The forward solve on the tree's path, saving at the observation times (and keeping every
/// step's dense output with `dense`); errors and failures become ``SensitivityError``.
@inlinable
func _observingSDESolve<F: SDEFunction, A: SDEAlgorithm>(
    _ problem: SDEProblem<F>, _ algorithm: A, _ tree: VirtualBrownianTree, _ plan: SDEObservationPlan, phase: String,
    dense: Bool = false
) throws(SensitivityError) -> ODESolution<F.Scalar> {
    var integrator = try _observingSDEIntegrator(problem, algorithm, tree, plan, dense: dense)
    return try _observedSolution(integrator.solve(), plan, phase: phase)
}

/// The loop of ``_observingSDESolve`` before its first step (for a caller that drives it).
@inlinable
func _observingSDEIntegrator<F: SDEFunction, A: SDEAlgorithm>(
    _ problem: SDEProblem<F>, _ algorithm: A, _ tree: VirtualBrownianTree, _ plan: SDEObservationPlan, dense: Bool = false
) throws(SensitivityError) -> ODEIntegrator<SDELoopStepper<F, BrownianTreeNoise>> {
    var options = plan.options
    options.dense = dense
    do {
        return try makeIntegrator(problem, algorithm, noise: BrownianTreeNoise(tree), options: options)
    } catch {
        switch error {
        case .invalidOptions(let e): throw .invalidInput(e)
        default: throw .unsupported("\(error)")
        }
    }
}

/// `sol` if the solve succeeded and saved one state per observation.
@inlinable
func _observedSolution<S>(_ sol: ODESolution<S>, _ plan: SDEObservationPlan, phase: String) throws(SensitivityError) -> ODESolution<S> {
    guard sol.retcode.isSuccessful else { throw .solveFailed(phase: phase, retcode: sol.retcode, message: sol.message) }
    guard sol.u.count == plan.times.count else {
        throw .unsupported("the \(phase) solve saved \(sol.u.count) states for \(plan.times.count) observations")
    }
    return sol
}

/// The mean loss over the Brownian paths of `seeds` and its gradient: the Monte Carlo estimate
/// of `∇E[L]` (each path's pathwise gradient, averaged), for the fits to an ensemble mean.
///
/// Path `s` is `VirtualBrownianTree(t0:t1:dimension:seed: s, tolerance:)` on the problem's span
/// (with the auxiliary process when the method needs it). The gradients are summed in the order
/// of `seeds`, one path at a time, so the same seeds give the same bits and the memory is one
/// path's. The statistics add up the paths' work.
@inlinable
public func meanGradient<M: SDEModel, L: PointLoss, A: SDEAlgorithm, S: SDESensitivityAlgorithm>(
    of loss: L, _ problem: SDEProblem<GenericSDE<M, Double>>, algorithm: A, seeds: [UInt64], treeTolerance: Double,
    options: SolveOptions, sensealg: S, wrt inputs: GradientInputs = .parametersAndInitialState
) throws(SensitivityError) -> SensitivityResult {
    guard !seeds.isEmpty else { throw .invalidInput(.unsupported("meanGradient needs at least one seed")) }
    var mean: SensitivityResult? = nil
    for seed in seeds {
        let tree: VirtualBrownianTree
        do {
            tree = try VirtualBrownianTree(
                t0: problem.tspan.0, t1: problem.tspan.1, dimension: problem.wienerCount, seed: seed,
                tolerance: treeTolerance, auxiliary: algorithm.scheme.needsAuxiliaryIncrement)
        } catch {
            throw .invalidInput(.unsupported("Brownian tree: \(error)"))
        }
        let r = try gradient(of: loss, problem, algorithm: algorithm, noise: tree, options: options, sensealg: sensealg, wrt: inputs)
        guard var m = mean else {
            mean = r
            continue
        }
        m.loss += r.loss
        for k in m.dp.indices { m.dp[k] += r.dp[k] }
        for k in m.du0.indices { m.du0[k] += r.du0[k] }
        m.stats.forwardEvaluations += r.stats.forwardEvaluations
        m.stats.backwardEvaluations += r.stats.backwardEvaluations
        m.stats.vjps += r.stats.vjps
        m.stats.forwardSteps += r.stats.forwardSteps
        m.stats.backwardSteps += r.stats.backwardSteps
        m.stats.checkpoints += r.stats.checkpoints
        mean = m
    }
    guard var m = mean else { throw .invalidInput(.unsupported("meanGradient needs at least one seed")) }
    let scale = 1 / Double(seeds.count)
    m.loss *= scale
    for k in m.dp.indices { m.dp[k] *= scale }
    for k in m.du0.indices { m.du0[k] *= scale }
    m.reconstructedInitialState = nil
    return m
}
