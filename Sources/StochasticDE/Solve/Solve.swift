import DiffEqCore

// `solve` for SDE problems: the shared integrator loop (`ODEIntegrator`) with the SDE method as
// its stepper (``SDELoopStepper``). Options, return codes, statistics, `saveat`, `tstops`, dense
// output, events and `isOutOfDomain` are the ODE solve's.

extension SDEProblem {
    /// The drift as the ODE problem the loop runs on (same `u0`, span and parameters).
    @inlinable
    public func driftProblem(callbacks: CallbackSet<Scalar>? = nil) -> ODEProblem<SDEDrift<F>> {
        var problem = ODEProblem(SDEDrift(f), u0: u0, tspan: tspan, p: p)
        if let callbacks { problem.callbacks = callbacks }
        return problem
    }
}

/// An integrator for step-by-step use (`step()`, `t`, `u`, `advance(to:)`), as `init` in
/// DifferentialEquations.jl, driving `noise` (a ``WienerProcess``, ``BrownianTreeNoise`` or
/// ``NoiseGrid`` starting at the problem's `t0`).
///
/// Every check runs before any work: the problem and the method (``SDESetup``), the noise
/// against the problem, then the options (shared `SolveSetup`), all as ``SDEError``.
/// The fixed-step methods (``EM``, ``EulerHeun``, ``RKMil``) need `options.dt`.
///
/// `driftErrorWeight` is `δ` in the adaptive methods' error estimate `δ E₁ + E₂` (Rackauckas &
/// Nie 2017; StochasticDiffEq.jl's `delta`, default 1/6). `E₁ = h Σ fᵢ` is O(h), so with the
/// default the order-1.5 methods take about tol⁻¹ steps and end far inside the tolerance; a
/// smaller `δ` lets `E₂`, the order-1.5 minus order-1 difference, choose the steps. SOSRI on
/// GBM at reltol = abstol = 1e-6 (20 paths): 504,299 steps and mean error 0.003 tol with
/// δ = 1/6, 27,886 steps and 0.15 tol with δ = 0.01, 11,353 and 0.66 tol with δ = 0. With
/// δ = 0 nothing controls the error of the drift where the noise is small: keep δ > 0 unless
/// the noise dominates.
@inlinable
public func makeIntegrator<F: SDEFunction, N: NoiseProcess>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, noise: N, options: SolveOptions = .init(),
    callback: CallbackSet<F.Scalar>? = nil, driftErrorWeight: Double = 1.0 / 6
) throws(SDEError) -> ODEIntegrator<SDELoopStepper<F, N>> {
    let (t0, t1) = problem.tspan
    guard t1 > t0 || !(t0.isFinite && t1.isFinite) || t0 == t1 else {
        throw .invalidOptions(.invalidTimeSpan(t0: t0, t1: t1))
    }
    let stepper = try SDELoopStepper(problem: problem, algorithm: algorithm, noise: noise, driftErrorWeight: driftErrorWeight)
    guard noise.currentTime == t0 else {
        throw .noiseMismatch("the noise starts at t = \(noise.currentTime), the problem at t0 = \(t0)")
    }
    do {
        let drift = problem.driftProblem(callbacks: callback)
        return try ODEIntegrator(drift, stepper: stepper, options: stepsOntoSaveTimes(drift, algorithm.scheme, options))
    } catch {
        throw .invalidOptions(error)
    }
}

/// `options` with the `saveat` times added to the `tstops` when the solve is adaptive: an SDE
/// solution has no dense output of the method's order (between step ends it is interpolated
/// linearly, as in StochasticDiffEq.jl), and a value interpolated inside a step of length `h` is
/// off by O(‖g‖√h) whatever the method's order. On GBM (SOSRI, reltol = abstol = 1e-6, the tree
/// of seed 3), u(0.5) was 2.8e-4 from the closed form while u(1), a step end, was 6.8e-8; the
/// steps shrink with the tolerance, so the saved values followed √tol instead of tol. Landing on
/// each save time costs at most one shorter step per time. Fixed steps are left as given (their
/// grid is the user's; a save time off the grid is interpolated linearly).
@inlinable
internal func stepsOntoSaveTimes<F: ODEFunction>(
    _ drift: ODEProblem<F>, _ scheme: SDEScheme, _ options: SolveOptions
) throws(DiffEqError) -> SolveOptions {
    guard options.adaptive, options.saveat != nil, scheme.hasErrorEstimate else { return options }
    // The shared validation, so that a bad `saveat` fails with the loop's own message.
    let times = try SolveSetup(drift, options).saveTimes
    var merged = options
    merged.tstops = []
    // Equal stops would ask the loop for a step of length zero.
    for t in (options.tstops + times).sorted() where merged.tstops.last != t { merged.tstops.append(t) }
    return merged
}

/// Solves `problem` with `algorithm` on the path of `noise`.
///
/// ```swift
/// let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 7, tolerance: 1e-6, auxiliary: true)
/// let sol = try solve(prob, SOSRI(), noise: BrownianTreeNoise(tree), options: SolveOptions(reltol: 1e-3, abstol: 1e-3))
/// ```
///
/// `driftErrorWeight`: `δ` of the error estimate (see ``makeIntegrator(_:_:noise:options:callback:driftErrorWeight:)``).
@inlinable
public func solve<F: SDEFunction, N: NoiseProcess>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, noise: N, options: SolveOptions = .init(),
    callback: CallbackSet<F.Scalar>? = nil, driftErrorWeight: Double = 1.0 / 6
) throws(SDEError) -> ODESolution<F.Scalar> {
    var integrator = try makeIntegrator(
        problem, algorithm, noise: noise, options: options, callback: callback, driftErrorWeight: driftErrorWeight)
    return integrator.solve()
}

/// Solves `problem` with `algorithm` on the ``WienerProcess`` of `seed` (with the auxiliary
/// process when the method needs it), drawn as the steps ask for it. Without history: memory
/// does not grow with the number of steps (the points behind the current step are dropped).
/// For a path independent of the step sequence use a ``VirtualBrownianTree``.
@inlinable
public func solve<F: SDEFunction>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, seed: UInt64, options: SolveOptions = .init(),
    callback: CallbackSet<F.Scalar>? = nil
) throws(SDEError) -> ODESolution<F.Scalar> {
    let noise: WienerProcess
    do {
        noise = try WienerProcess(
            dimension: problem.wienerCount, t0: problem.tspan.0, seed: seed,
            auxiliary: algorithm.scheme.needsAuxiliaryIncrement, keepsHistory: false)
    } catch {
        throw .noiseMismatch("\(error)")
    }
    return try solve(problem, algorithm, noise: noise, options: options, callback: callback)
}

/// Solves `problem` with `algorithm` on the ``WienerProcess`` of the problem's ``SDEProblem/seed``.
@inlinable
public func solve<F: SDEFunction>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, options: SolveOptions = .init(),
    callback: CallbackSet<F.Scalar>? = nil
) throws(SDEError) -> ODESolution<F.Scalar> {
    try solve(problem, algorithm, seed: problem.seed, options: options, callback: callback)
}
