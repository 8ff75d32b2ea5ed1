public import DiffEqCore
public import Sensitivity
public import StochasticDE

/// The discrete adjoint of an SDE solve on a fixed Brownian path: the exact gradient of the
/// computed solution (the states at the observation times) with respect to `p` and `u0`, with
/// the accepted steps and their Brownian increments held fixed, by a reverse sweep over the
/// steps that recomputes each step's stages from its start state and chains the model's
/// vector-Jacobian products through them. The SDE counterpart of Sensitivity's
/// `DiscreteAdjoint`; what SciMLSensitivity.jl gets from `ReverseDiffAdjoint` on an SDE solve,
/// and what diffrax's `RecursiveCheckpointAdjoint` computes through a solve on a
/// `VirtualBrownianTree` (the increments are functions of the path, not of `p`).
///
/// **What it differentiates.** Each accepted step from `(t_k, u_k)` of size `h_k` is a map
/// `u_{k+1} = Φ(u_k, p; t_k, h_k, ΔW_k, ΔZ_k)` (``EM``, ``EulerHeun``, the SRI stages of
/// ``SRIW1``/``SOSRI``; see their documentation for `Φ`), and a state saved inside a step is
/// the solve's linear interpolation `(1 − θ)u_k + θu_{k+1}`. Given `ū_{k+1} = ∂L/∂u_{k+1}`, the
/// sweep takes `ū_k = ū_{k+1}ᵀ∂Φ/∂u_k`, `p̄ += ū_{k+1}ᵀ∂Φ/∂p` by the reverse mode of the step's
/// evaluation procedure (Griewank & Walther, "Evaluating derivatives", 2nd ed., SIAM 2008,
/// ch. 3): for the SRI stages `H⁽⁰⁾ᵢ`, `H⁽¹⁾ᵢ` of ``SRITableau`` (Rößler 2010), with
/// `K̄ⱼ = hαⱼū_{k+1}` and `Ḡⱼ = wⱼ ⊙ ū_{k+1}` (`wⱼ` the per-component weight
/// `β1ⱼΔW + β2ⱼI₍₁,₁₎/√h + β3ⱼI₍₁,₀₎/h + β4ⱼI₍₁,₁,₁₎/h`), for `i = s … 1`:
/// `H̄⁽¹⁾ᵢ = Ḡᵢᵀ∂g/∂u(H⁽¹⁾ᵢ)`, `H̄⁽⁰⁾ᵢ = K̄ᵢᵀ∂f/∂u(H⁽⁰⁾ᵢ)` (and their `∂/∂p` into `p̄`), then
/// `ū_k += H̄⁽⁰⁾ᵢ + H̄⁽¹⁾ᵢ`, `K̄ⱼ += h(A0ᵢⱼH̄⁽⁰⁾ᵢ + A1ᵢⱼH̄⁽¹⁾ᵢ)`,
/// `Ḡⱼ += (I₍₁,₀₎/h)B0ᵢⱼH̄⁽⁰⁾ᵢ + √h B1ᵢⱼH̄⁽¹⁾ᵢ` for `j < i`. No Itô–Stratonovich conversion
/// is needed (the map is differentiated as it is), so Itô methods work with a model's own
/// products (``SDEModelWithVJP``) too.
///
/// The step-size controller's choices are not differentiated (the step sequence is frozen, as
/// diffrax's `PIDController` stops gradients through the step factor and as Sensitivity's
/// `DiscreteAdjoint` does): on fixed steps the result is the derivative of the solve,
/// equal to ``SDEForwardDiffSensitivity``'s to rounding (3e-15 relative measured). On adaptive
/// steps it is the derivative of the solve with its steps held: equal to forward mode and to
/// central differences of the same steps replayed as a fixed-step solve landing on each
/// accepted step's end (SOSRI on GBM, 2,570 steps at 1e-4: 1.5e-15 and 9.0e-10). Two things
/// are not references there: forward mode on the adaptive solve itself, whose dual solve picks
/// other steps (its error norm adds the squared partials; 2.8e-4, 1.9e-3, 4.9e-4 from this
/// adjoint at reltol = abstol = 1e-4, 1e-5, 1e-6), and central differences of re-adapted solves,
/// which jump with the accepted steps (O(1) off).
///
/// **Methods.** ``EM``, ``LambaEM`` (its step is EM's; the estimate only picks the steps),
/// ``EulerHeun`` and the SRI tableaus (``SRIW1``, ``SOSRI``, or a user's `SRITableau`), every
/// noise kind the method accepts. Others (``RKMil``, the SRA methods, ``ImplicitEM``) throw
/// ``SensitivityError/unsupported(_:)``: use ``SDEForwardDiffSensitivity`` or
/// ``SDEBacksolveAdjoint`` for them.
///
/// **Cost and memory.** By default (``SDECheckpointing/storeAll``) the forward solve keeps its
/// dense output, i.e. the start and end state of every accepted step (`2n + 3` doubles per step:
/// memory grows linearly with the number of steps, as for Sensitivity's `DiscreteAdjoint`).
/// With `checkpoints: .binomial(c)` it keeps at most `c` states whatever the number of steps
/// `N`, and redoes steps from them by Griewank & Walther's binomial schedule (revolve): the
/// forward work grows to `N + T(N, c)` steps (`T(10⁴, 8) = 68,560`, each step redone at most 8
/// times), and the gradient is the store-all one bit for bit (see ``SDECheckpointing``). Which
/// to pick: store-all while `2N` states fit; `.binomial(c)` when they do not and the issue's
/// 1e-6 agreement with the discrete solve is wanted; ``SDEBacksolveAdjoint`` (also constant
/// memory, one backward solve, but only O(dt) from the discrete derivative) when that accuracy
/// is not needed. The sweep recomputes the stages (no `f`, `g` for
/// EM; one `f` and one `g` for EulerHeun; `s` of each for an `s`-stage SRI method) and takes one
/// product per function evaluation of the step (EM: one drift and one diffusion product at
/// `u_k`); the tree is queried at each step's ends. ``SensitivityStats/peakStoredStates`` counts
/// the kept states (`2N`, or the most checkpoints held at once), `forwardSteps` every forward
/// step taken, redone ones included.
///
/// Performance: instructions per gradient (callgrind, release, a client calling `gradient` with
/// concrete types, 3 gradients minus 1 over 2), 2-D Lotka-Volterra with σ in p, 1,024 steps, 4
/// observations: EM 9.46M against ``SDEBacksolveAdjoint``'s 22.86M (whose Itô correction needs
/// nested duals) and forward mode's 2.47M; EulerHeun 16.34M against 15.25M and 3.42M. With
/// `n + np = 8` one dual chunk carries all directions, so forward mode is cheapest on such
/// small systems. A NeuralSDE (2→16→2 tanh drift, 2→2 sigmoid diffusion, 88 parameters,
/// EulerHeun, 128 steps): 5.02M against the backsolve's 5.99M. The stage buffers and the
/// products' dual buffers are made once per gradient, so the sweep is meant not to allocate per
/// step (not yet counted with `scripts/malloc-count.c`); the observation loss gradients allocate
/// one dual array each, as in the other adjoints. Binomial checkpointing (same client, 4
/// observations, same gradient bits): EM, 1,024 steps, `.binomial(8)`: 20.82M against
/// store-all's 9.47M (6,453 forward steps instead of 1,024; 8 states held instead of 2,048);
/// SOSRI at reltol = abstol = 1e-4 (6,837 accepted steps): 716.4M against 369.6M (56,930
/// forward steps, 8 states instead of 13,674). The sweep's products dominate SOSRI's cost, so
/// redoing the steps less than doubles it. Those counts are from before the turns stopped
/// redoing their step: the forward steps are now 5,429 and 50,093 (`N` fewer, same bits; the
/// instructions not measured again).
public struct SDEDiscreteAdjoint: SDESensitivityAlgorithm {
    /// How the sweep gets each step's start back: all kept (the default) or at most `c` states
    /// kept and the steps between them redone (``SDECheckpointing/binomial(_:)``).
    public var checkpoints: SDECheckpointing

    public init(checkpoints: SDECheckpointing = .storeAll) {
        self.checkpoints = checkpoints
    }

    public var name: String {
        switch checkpoints {
        case .storeAll: return "SDEDiscreteAdjoint"
        case .binomial(let c): return "SDEDiscreteAdjoint(binomial \(c))"
        }
    }

    /// Whether this adjoint differentiates `scheme`'s steps (``EM``, ``LambaEM``, ``EulerHeun``,
    /// the SRI tableaus).
    public static func supports(_ scheme: SDEScheme) -> Bool {
        switch scheme {
        case .eulerMaruyama, .lambaEM, .eulerHeun, .sri: return true
        default: return false
        }
    }

    @inlinable
    public func gradient<M: SDEModel, L: PointLoss, A: SDEAlgorithm>(
        of loss: L, _ problem: SDEProblem<GenericSDE<M, Double>>, algorithm: A, noise tree: VirtualBrownianTree,
        plan: SDEObservationPlan
    ) throws(SensitivityError) -> SensitivityResult {
        let scheme = algorithm.scheme
        guard Self.supports(scheme) else {
            throw .unsupported(
                "SDEDiscreteAdjoint differentiates the steps of EM, LambaEM, EulerHeun and the SRI methods, not \(scheme.name) "
                    + "(use SDEForwardDiffSensitivity or SDEBacksolveAdjoint)")
        }
        if case .binomial(let c) = checkpoints {
            guard c >= 1 else {
                throw .invalidInput(
                    .invalidStepOption("SDEDiscreteAdjoint: binomial checkpointing needs at least 1 checkpoint (the state at t0), got \(c)"))
            }
            return try binomialGradient(of: loss, problem, algorithm: algorithm, noise: tree, plan: plan, checkpoints: c)
        }
        let forward = try _observingSDESolve(problem, algorithm, tree, plan, phase: "forward", dense: true)
        guard let dense = forward.denseOutput?.piecewisePolynomial else {
            throw .unsupported("the forward \(scheme.name) solve kept no dense output, which SDEDiscreteAdjoint reads its steps from")
        }
        var sweep = _SDEReverseSweep(problem, scheme: scheme, tree: tree)
        var stats = SensitivityStats(forward: forward.stats)
        stats.peakStoredStates = 2 * dense.count
        var observations = _SDEObservedLoss(loss, plan: plan, states: forward.u)
        for step in stride(from: dense.count - 1, through: 0, by: -1) {
            let (start, end, h) = dense.withStep(step) { start, end, h, values in
                for i in 0..<sweep.n { sweep.u[i] = values[i] }
                return (start, end, h)
            }
            let from = step == 0 ? plan.t0 : dense.withStep(step - 1) { s, _, hPrev, _ in sweep.noiseEnd(s, hPrev) }
            try observations.reverseStep(&sweep, start: start, end: end, h: h, noiseFrom: from)
        }
        stats.backwardSteps = dense.count
        return observations.finish(&sweep, stats: stats, method: name)
    }

    /// The sweep with at most `c` stored states: the forward solve counts the steps and saves
    /// the observations, then the steps are redone from checkpoints of the same loop by
    /// ``_BinomialSchedule``.
    @inlinable
    func binomialGradient<M: SDEModel, L: PointLoss, A: SDEAlgorithm>(
        of loss: L, _ problem: SDEProblem<GenericSDE<M, Double>>, algorithm: A, noise tree: VirtualBrownianTree,
        plan: SDEObservationPlan, checkpoints c: Int
    ) throws(SensitivityError) -> SensitivityResult {
        var replay = _SDEBinomialReplay(try _observingSDEIntegrator(problem, algorithm, tree, plan), checkpoints: c)
        let forward = try _observedSolution(replay.solve(), plan, phase: "forward")
        let steps = forward.stats.naccept
        var stats = SensitivityStats(forward: forward.stats)
        var sweep = _SDEReverseSweep(problem, scheme: algorithm.scheme, tree: tree)
        var observations = _SDEObservedLoss(loss, plan: plan, states: forward.u)
        try replay.reverse(0, steps, checkpoints: c) { (replay: inout _SDEBinomialReplay<M>) throws(SensitivityError) in
            for i in 0..<sweep.n { sweep.u[i] = replay.turnState[i] }
            try observations.reverseStep(
                &sweep, start: replay.turnStart, end: replay.turnStep.end, h: replay.turnStep.h, noiseFrom: replay.turnNoiseFrom)
        }
        stats.forwardSteps += replay.advances + replay.turnSteps
        stats.forwardEvaluations += replay.evaluations
        stats.backwardSteps = steps
        stats.checkpoints = replay.stored
        stats.peakStoredStates = replay.peak
        return observations.finish(&sweep, stats: stats, method: name)
    }
}

/// The loss terms of the observations in the reverse sweep of ``SDEDiscreteAdjoint``: each
/// observation's cotangent enters the adjoint of the step that saved it (at its end, or split
/// by the linear interpolation inside it).
@usableFromInline
struct _SDEObservedLoss<L: PointLoss> {
    @usableFromInline let loss: L
    @usableFromInline let times: [Double]
    @usableFromInline let states: [[Double]]
    /// The latest observation not yet in the sweep.
    @usableFromInline var next: Int
    @usableFromInline var value = 0.0
    @usableFromInline var gradientOfLoss: [Double]
    /// The cotangent of the current step's start state from observations inside the step.
    @usableFromInline var atStart: [Double]

    @inlinable
    init(_ loss: L, plan: SDEObservationPlan, states: [[Double]]) {
        self.loss = loss
        times = plan.times
        self.states = states
        next = plan.times.count - 1
        let n = states.first?.count ?? 0
        gradientOfLoss = [Double](repeating: 0, count: n)
        atStart = gradientOfLoss
    }

    /// Adds the observations saved by the step from `start` (state in `sweep.u`) to `end`, of
    /// size `h`, then takes the sweep back over it on the increments from `noiseFrom` (where the
    /// noise was when the step began).
    @inlinable
    mutating func reverseStep<M: SDEModel>(
        _ sweep: inout _SDEReverseSweep<M>, start: Double, end: Double, h: Double, noiseFrom from: Double
    ) throws(SensitivityError) {
        let n = sweep.n
        for i in 0..<n { atStart[i] = 0 }
        while next >= 0 && times[next] > start {
            value += loss.valueAndGradient(at: states[next], times[next], into: &gradientOfLoss)
            if times[next] >= end {
                for i in 0..<n { sweep.a[i] += gradientOfLoss[i] }
            } else {
                let theta = (times[next] - start) / h
                for i in 0..<n {
                    sweep.a[i] += theta * gradientOfLoss[i]
                    atStart[i] += (1 - theta) * gradientOfLoss[i]
                }
            }
            next -= 1
        }
        do {
            try sweep.increments(from: from, start: start, to: sweep.noiseEnd(start, h))
        } catch {
            throw .unsupported("Brownian tree: \(error)")
        }
        sweep.reverseStep(t: start, h: h)
        for i in 0..<n { sweep.a[i] += atStart[i] }
    }

    /// Adds the observations at `t0` (saved before the first step) and returns the result.
    @inlinable
    mutating func finish<M: SDEModel>(
        _ sweep: inout _SDEReverseSweep<M>, stats: SensitivityStats, method: String
    ) -> SensitivityResult {
        while next >= 0 {
            value += loss.valueAndGradient(at: states[next], times[next], into: &gradientOfLoss)
            for i in 0..<sweep.n { sweep.a[i] += gradientOfLoss[i] }
            next -= 1
        }
        var stats = stats
        stats.vjps = sweep.products.count
        stats.backwardEvaluations = sweep.evaluations
        return SensitivityResult(loss: value, dp: sweep.pbar, du0: sweep.a, stats: stats, method: method)
    }
}

/// The state of ``SDEDiscreteAdjoint``'s reverse sweep: the adjoint `a` of the current state,
/// `p̄`, the recomputed stages of one step and the Brownian increments of that step.
@usableFromInline
struct _SDEReverseSweep<M: SDEModel> {
    @usableFromInline enum Kind { case em, heun, sri(SRITableau) }

    @usableFromInline let model: M
    @usableFromInline let noise: NoiseKind
    @usableFromInline let kind: Kind
    @usableFromInline let n: Int
    @usableFromInline let m: Int
    @usableFromInline let p: [Double]
    @usableFromInline let t1: Double
    @usableFromInline let products: _SDEPullbacks<M>
    /// The step's start state (filled by the caller), the adjoint, `p̄`.
    @usableFromInline var u: [Double]
    @usableFromInline var a: [Double]
    @usableFromInline var pbar: [Double]
    @usableFromInline var dW: [Double]
    @usableFromInline var dZ: [Double]
    /// Tree values at the step's noise interval ends and the times they are for.
    @usableFromInline var cursor: BrownianTreeCursor
    @usableFromInline var wLower: [Double]
    @usableFromInline var wUpper: [Double]
    @usableFromInline var lowerTime = Double.nan
    /// Stage inputs `H⁽⁰⁾`, `H⁽¹⁾`, outputs `K = f(H⁽⁰⁾)`, `G = g(H⁽¹⁾)`, and their adjoints.
    @usableFromInline var x: [[Double]]
    @usableFromInline var y: [[Double]]
    @usableFromInline var k: [[Double]]
    @usableFromInline var g: [[Double]]
    @usableFromInline var kbar: [[Double]]
    @usableFromInline var gbar: [[Double]]
    @usableFromInline var xbar: [Double]
    @usableFromInline var ybar: [Double]
    /// The SRI iterated-integral factors per Wiener process.
    @usableFromInline var chi1: [Double]
    @usableFromInline var chi2: [Double]
    @usableFromInline var chi3: [Double]
    /// Drift and diffusion evaluations of the stage recomputation.
    @usableFromInline var evaluations = 0

    @inlinable
    init(_ problem: SDEProblem<GenericSDE<M, Double>>, scheme: SDEScheme, tree: VirtualBrownianTree) {
        model = problem.f.model
        noise = problem.noise
        n = problem.u0.count
        m = problem.wienerCount
        p = problem.p
        t1 = problem.tspan.1
        switch scheme {
        case .eulerHeun: kind = .heun
        case .sri(let tab): kind = .sri(tab)
        default: kind = .em
        }
        let stages: Int
        switch kind {
        case .em: stages = 1
        case .heun: stages = 2
        case .sri(let tab): stages = tab.stages
        }
        products = _SDEPullbacks(model, noise: noise, n: n, p: p)
        u = [Double](repeating: 0, count: n)
        a = u
        xbar = u
        ybar = u
        pbar = [Double](repeating: 0, count: p.count)
        dW = [Double](repeating: 0, count: m)
        dZ = [Double](repeating: 0, count: tree.hasAuxiliary ? m : 0)
        cursor = BrownianTreeCursor(tree)
        wLower = [Double](repeating: 0, count: tree.components)
        wUpper = wLower
        let length = noise.diffusionLength(states: n)
        x = [[Double]](repeating: u, count: stages)
        y = x
        k = x
        kbar = x
        g = [[Double]](repeating: [Double](repeating: 0, count: length), count: stages)
        gbar = g
        chi1 = [Double](repeating: 0, count: m)
        chi2 = chi1
        chi3 = chi1
    }

    /// Where the noise ended a step from `t` of size `h`: `SDELoopStepper` draws the increment
    /// to `t + h`, snapped to the span's end within `4 ulp(t1)`.
    @inlinable
    func noiseEnd(_ t: Double, _ h: Double) -> Double {
        let end = t + h
        return Swift.abs(end - t1) <= 4 * Swift.abs(t1).ulp ? t1 : end
    }

    /// The increments the forward step read: from where the noise was (`from`, the previous
    /// step's noise end) to `to`, unless the loop moved the noise to the step's `start` because
    /// the two were more than a few ulps apart (`SDELoopStepper.attempt`'s rule).
    @inlinable
    mutating func increments(from: Double, start: Double, to: Double) throws(NoiseError) {
        let lower = from != start && Swift.abs(from - start) > 4 * Swift.max(Swift.abs(start), Swift.abs(t1)).ulp ? start : from
        if to == lowerTime {
            swap(&wUpper, &wLower)
        } else {
            try cursor.value(at: to, into: &wUpper)
        }
        try cursor.value(at: lower, into: &wLower)
        lowerTime = lower
        for j in 0..<m { dW[j] = wUpper[j] - wLower[j] }
        if !dZ.isEmpty { for j in 0..<m { dZ[j] = wUpper[m + j] - wLower[m + j] } }
    }

    /// `a ← aᵀ∂Φ/∂u`, `p̄ += aᵀ∂Φ/∂p` for the step from `(t, u)` of size `h` on `dW`, `dZ`.
    @inlinable
    mutating func reverseStep(t: Double, h: Double) {
        switch kind {
        case .em: reverseEM(t: t, h: h)
        case .heun: reverseHeun(t: t, h: h)
        case .sri(let tab): reverseSRI(tab, t: t, h: h)
        }
    }

    /// `u⁺ = u + f(u)h + G(u)ΔW`: one product at `u`.
    @inlinable
    mutating func reverseEM(t: Double, h: Double) {
        for i in 0..<n { kbar[0][i] = h * a[i] }
        _noiseCotangent(a, dW, scale: 1, noise: noise, states: n, into: &gbar[0])
        products.pullback(u: u, p: p, t: t, drift: true, kbar[0], diffusion: true, gbar[0], ubar: &xbar, pbar: &pbar)
        for i in 0..<n { a[i] += xbar[i] }
    }

    /// Stochastic Heun: `ū = u + f(u)h + G(u)ΔW`, `u⁺ = u + ½(f(u) + f(ū))h + ½(G(u) + G(ū))ΔW`.
    @inlinable
    mutating func reverseHeun(t: Double, h: Double) {
        model.drift(&k[0], u, p, t)
        model.diffusion(&g[0], u, p, t)
        evaluations += 2
        _noiseApplied(g[0], dW, noise: noise, states: n, into: &ybar)
        for i in 0..<n { x[1][i] = u[i] + k[0][i] * h + ybar[i] }
        // The corrector's second half, at ū and t + h.
        for i in 0..<n { kbar[1][i] = 0.5 * h * a[i] }
        _noiseCotangent(a, dW, scale: 0.5, noise: noise, states: n, into: &gbar[1])
        products.pullback(u: x[1], p: p, t: t + h, drift: true, kbar[1], diffusion: true, gbar[1], ubar: &ybar, pbar: &pbar)
        // At u: the corrector's first half and the predictor, whose adjoint is ybar.
        for i in 0..<n {
            kbar[0][i] = 0.5 * h * a[i] + h * ybar[i]
            xbar[i] = 0.5 * a[i] + ybar[i]
        }
        _noiseCotangent(xbar, dW, scale: 1, noise: noise, states: n, into: &gbar[0])
        products.pullback(u: u, p: p, t: t, drift: true, kbar[0], diffusion: true, gbar[0], ubar: &xbar, pbar: &pbar)
        for i in 0..<n { a[i] += ybar[i] + xbar[i] }
    }

    /// Rößler's SRI step (``SRITableau``), diagonal, additive or scalar noise: the stages are
    /// recomputed as `SDEStepper` computes them, then swept in reverse.
    @inlinable
    mutating func reverseSRI(_ tab: SRITableau, t: Double, h: Double) {
        let s = tab.stages
        let scalarNoise = noise == .scalar
        let sqdt = h.squareRoot()
        for j in 0..<m {
            let w = dW[j]
            chi1[j] = 0.5 * (w * w - h) / sqdt
            chi2[j] = 0.5 * (w + dZ[j] * 0.5773502691896258)  // 1/√3
            chi3[j] = (w * w * w - 3 * w * h) / (6 * h)
        }
        for stage in 0..<s {
            let row = stage * s
            for i in 0..<n {
                var acc0 = u[i], acc1 = u[i]
                let c = chi2[scalarNoise ? 0 : i]
                for j in 0..<stage {
                    acc0 += k[j][i] * (tab.A0[row + j] * h) + g[j][i] * (tab.B0[row + j] * c)
                    acc1 += k[j][i] * (tab.A1[row + j] * h) + g[j][i] * (tab.B1[row + j] * sqdt)
                }
                x[stage][i] = acc0
                y[stage][i] = acc1
            }
            model.drift(&k[stage], x[stage], p, t + tab.c0[stage] * h)
            model.diffusion(&g[stage], y[stage], p, t + tab.c1[stage] * h)
            evaluations += 2
        }
        for j in 0..<s {
            for i in 0..<n {
                let w = scalarNoise ? 0 : i
                kbar[j][i] = h * tab.alpha[j] * a[i]
                gbar[j][i] = (tab.beta1[j] * dW[w] + tab.beta2[j] * chi1[w] + tab.beta3[j] * chi2[w] + tab.beta4[j] * chi3[w]) * a[i]
            }
        }
        for stage in stride(from: s - 1, through: 0, by: -1) {
            let row = stage * s
            products.pullback(
                u: y[stage], p: p, t: t + tab.c1[stage] * h, drift: false, kbar[stage], diffusion: true, gbar[stage],
                ubar: &ybar, pbar: &pbar)
            products.pullback(
                u: x[stage], p: p, t: t + tab.c0[stage] * h, drift: true, kbar[stage], diffusion: false, gbar[stage],
                ubar: &xbar, pbar: &pbar)
            for i in 0..<n {
                a[i] += xbar[i] + ybar[i]
                let c = chi2[scalarNoise ? 0 : i]
                for j in 0..<stage {
                    kbar[j][i] += h * (tab.A0[row + j] * xbar[i] + tab.A1[row + j] * ybar[i])
                    gbar[j][i] += tab.B0[row + j] * c * xbar[i] + tab.B1[row + j] * sqdt * ybar[i]
                }
            }
        }
    }
}
