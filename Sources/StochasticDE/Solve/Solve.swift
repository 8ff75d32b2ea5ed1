import DiffEqCore

// `solve` for SDE problems: the shared integrator loop (`ODEIntegrator`) with the SDE method as
// its stepper (``SDELoopStepper``). Options, return codes, statistics, `saveat`, `tstops`, dense
// output, events and `isOutOfDomain` are the ODE solve's. Fixed-step EM, EulerHeun and RKMil
// without callbacks or `isOutOfDomain` run the same steps in `solveWithFixedSteps`.

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
///
/// Why the default stays 1/6 (StochasticDiffEq's, which users cross-check against): measured
/// on the tree paths of seeds 0 … 2 (debug build; steps, then mean error / tol) at 1e-4, 1e-5,
/// 1e-6: δ = 1/6: GBM 4,295 / 42,955 / 429,691 steps, 0.011 / 0.0073 / 0.0013; cubic 585 /
/// 5,571 / 54,760, 0.069 / 0.024 / 0.0083; additive (SOSRA, α = 10) 1,104 / 10,938 / 109,336,
/// ≤ 2e-4. δ = 1/12: half the steps (GBM 214,830 at 1e-6), errors ≤ 0.19 tol. δ = 0.01: GBM
/// 646 / 2,983 / 25,729 steps, 0.29 / 0.34 / 0.10; cubic 0.92 / 0.68 / 0.29 with single paths
/// at 1.08 and 1.69 tol. 1/12 would still need over 100,000 steps at 1e-6 on GBM, and 0.01
/// leaves the cubic at the edge of the tolerance, so neither is a better default. A tight
/// tolerance therefore needs `SolveOptions.maxiters` above its default of 100,000 (the
/// shared loop's); a solve that stops there returns `.maxIters` with a message saying so.
@inlinable
public func makeIntegrator<F: SDEFunction, N: NoiseProcess>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, noise: N, options: SolveOptions = .init(),
    callback: CallbackSet<F.Scalar>? = nil, driftErrorWeight: Double = 1.0 / 6
) throws(SDEError) -> ODEIntegrator<SDELoopStepper<F, N>> {
    let stepper = try makeLoopStepper(problem, algorithm, noise: noise, driftErrorWeight: driftErrorWeight)
    do {
        let drift = problem.driftProblem(callbacks: callback)
        return try ODEIntegrator(drift, stepper: stepper, options: stepsOntoSaveTimes(drift, algorithm.scheme, options))
    } catch {
        throw .invalidOptions(error)
    }
}

/// The checks of ``makeIntegrator(_:_:noise:options:callback:driftErrorWeight:)`` before the
/// loop's own (the time span, the problem and method, the noise) and the stepper, shared with
/// `solve`.
@inlinable
func makeLoopStepper<F: SDEFunction, N: NoiseProcess>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, noise: N, driftErrorWeight: Double
) throws(SDEError) -> SDELoopStepper<F, N> {
    let (t0, t1) = problem.tspan
    guard t1 > t0 || !(t0.isFinite && t1.isFinite) || t0 == t1 else {
        throw .invalidOptions(.invalidTimeSpan(t0: t0, t1: t1))
    }
    let stepper = try SDELoopStepper(problem: problem, algorithm: algorithm, noise: noise, driftErrorWeight: driftErrorWeight)
    guard noise.currentTime == t0 else {
        throw .noiseMismatch("the noise starts at t = \(noise.currentTime), the problem at t0 = \(t0)")
    }
    return stepper
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
    try solve(
        problem, algorithm, noise: noise, driver: ProposeThenAccept<N>.self, options: options, callback: callback,
        driftErrorWeight: driftErrorWeight)
}

/// `solve` on `noise`, driven by `driver` where the fixed-step loop applies
/// (``solveWithFixedSteps(_:driver:drift:setup:)``: ``EM``, ``EulerHeun``, ``RKMil`` without
/// callbacks or `isOutOfDomain`), otherwise on the shared loop. The same checks, in the same
/// order and with the same errors, as ``makeIntegrator(_:_:noise:options:callback:driftErrorWeight:)``.
@inlinable
func solve<F: SDEFunction, Driver: FixedStepNoise>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, noise: Driver.Noise, driver: Driver.Type,
    options: SolveOptions, callback: CallbackSet<F.Scalar>?, driftErrorWeight: Double
) throws(SDEError) -> ODESolution<F.Scalar> {
    var stepper = try makeLoopStepper(problem, algorithm, noise: noise, driftErrorWeight: driftErrorWeight)
    var solution: ODESolution<F.Scalar>
    do {
        let drift = problem.driftProblem(callbacks: callback)
        let resolved = try stepsOntoSaveTimes(drift, algorithm.scheme, options)
        if stepper.kernel.kernel.runsOnFixedStepLoop && (callback?.isEmpty ?? true) && options.isOutOfDomain == nil {
            // `ODEIntegrator.init`'s checks (an SDE's drift has no mass matrix).
            let setup = try SolveSetup(drift, resolved)
            try stepper.validateSettings()
            try setup.checkFixedSteps(method: stepper.name, methodIsAdaptive: stepper.isAdaptive)
            solution = solveWithFixedSteps(&stepper, driver: Driver.self, drift: drift, setup: setup)
        } else {
            var integrator = try ODEIntegrator(drift, stepper: stepper, options: resolved)
            solution = integrator.solve()
        }
    } catch {
        throw .invalidOptions(error)
    }
    if solution.retcode == .maxIters, options.adaptive, algorithm.scheme.hasErrorEstimate {
        // The order-1.5 methods take about tol⁻¹ steps with the default δ (SOSRI on GBM: 504,299
        // at 1e-6), so a tight tolerance meets the shared default of 100,000 steps.
        solution.message = (solution.message ?? "reached maxiters")
            + "; an adaptive SDE solve takes about as many steps as 1/tolerance with driftErrorWeight = 1/6: "
            + "raise maxiters, or lower driftErrorWeight (\(driftErrorWeight)) where the noise dominates"
    }
    return solution
}

/// Solves `problem` with `algorithm` on the ``WienerProcess`` of `seed` (with the auxiliary
/// process when the method needs it), drawn as the steps ask for it. Without history: memory
/// does not grow with the number of steps (the points behind the current step are dropped).
/// For a path independent of the step sequence use a ``VirtualBrownianTree``.
/// `driftErrorWeight`: `δ` of the error estimate (see ``makeIntegrator(_:_:noise:options:callback:driftErrorWeight:)``).
@inlinable
public func solve<F: SDEFunction>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, seed: UInt64, options: SolveOptions = .init(),
    callback: CallbackSet<F.Scalar>? = nil, driftErrorWeight: Double = 1.0 / 6
) throws(SDEError) -> ODESolution<F.Scalar> {
    let noise: WienerProcess
    do {
        noise = try WienerProcess(
            dimension: problem.wienerCount, t0: problem.tspan.0, seed: seed,
            auxiliary: algorithm.scheme.needsAuxiliaryIncrement, keepsHistory: false)
    } catch {
        throw .noiseMismatch("\(error)")
    }
    // Nobody can read this process after the solve: the fixed-step loop draws it in place.
    return try solve(
        problem, algorithm, noise: noise, driver: DrawAndAcceptAtOnce.self, options: options, callback: callback,
        driftErrorWeight: driftErrorWeight)
}

/// Solves `problem` with `algorithm` on the ``WienerProcess`` of the problem's ``SDEProblem/seed``.
@inlinable
public func solve<F: SDEFunction>(
    _ problem: SDEProblem<F>, _ algorithm: some SDEAlgorithm, options: SolveOptions = .init(),
    callback: CallbackSet<F.Scalar>? = nil, driftErrorWeight: Double = 1.0 / 6
) throws(SDEError) -> ODESolution<F.Scalar> {
    try solve(problem, algorithm, seed: problem.seed, options: options, callback: callback, driftErrorWeight: driftErrorWeight)
}
