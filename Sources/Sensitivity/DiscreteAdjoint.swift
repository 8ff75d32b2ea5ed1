import DiffEqCore
import ExplicitRK

// The discrete adjoint of an explicit Runge-Kutta solve: reverse-mode differentiation of the
// computed solution, step by step, rather than a discretization of the continuous adjoint.
//
// One accepted step from (t_n, u_n) with the frozen step size h (the step the forward solve took)
// is the map
//
//     U_i = u_n + h Σ_{j<i} a_ij k_j,   k_i = f(U_i, p, t_n + c_i h),   i = 1 … s (+ extra stages),
//     u_{n+1} = u_n + h Σ_i b_i k_i,
//
// and a saved state inside the step is the method's continuous extension
// u(t_n + θh) = u_n + h Σ_i b_i(θ) k_i (θ b_i for the methods without one, whose dense output is
// linear between the step's ends). Given ū_{n+1} = ∂L/∂u_{n+1} and the cotangents ḡ of the saved
// states inside the step, the reverse sweep of that map is
//
//     k̄_i = h b_i ū_{n+1} + Σ_obs h b_i(θ) ḡ,   ū_n = ū_{n+1} + Σ_obs ḡ,
//     for i = last … 1:  Ū_i = k̄_iᵀ ∂f/∂u(U_i),   p̄ += k̄_iᵀ ∂f/∂p(U_i),
//                        ū_n += Ū_i,   k̄_j += h a_ij Ū_i (j < i),
//
// (Griewank & Walther, "Evaluating derivatives", 2nd ed., SIAM 2008, ch. 3, the reverse mode of an
// evaluation procedure; Hager, "Runge-Kutta methods in optimal control and the transformed adjoint
// system", Numer. Math. 87 (2000) 247-282, §2, the same recursion written as a Runge-Kutta method
// on the adjoint). The stages are recomputed from the step's start state (stored by the forward
// pass's dense output), so the forward solver is unchanged.

/// The discrete adjoint of an explicit Runge-Kutta solve: the exact gradient of the computed
/// solution (the states at the observation times, including those interpolated inside a step by
/// the method's dense output) with respect to `p` and `u0`, with the accepted step sequence held
/// fixed, by a reverse sweep over the steps that uses the model's vector-Jacobian products
/// (`λᵀ∂f/∂u`, `λᵀ∂f/∂p`; a ``ODEModelWithVJP`` such as a network supplies its own).
///
/// What it differentiates: the discrete map from `(u0, p)` to the saved states, with the step
/// sizes and times treated as constants. The step-size controller's dependence on `u0` and `p`
/// is not differentiated (the accepted/rejected decisions are piecewise constant, and a step
/// size's derivative would only carry the error estimate's sensitivity). diffrax's
/// `RecursiveCheckpointAdjoint` computes the same: JAX differentiates through the whole loop, but
/// diffrax's `PIDController` applies `lax.stop_gradient` to the scaled error and to the step
/// factor (diffrax 0.7.2, `_step_size_controller/pid.py`), so its gradient is also that of the
/// frozen step sequence.
///
/// What it is for: the gradient of the loss the optimizer actually evaluates, exact to rounding
/// at any tolerance (``QuadratureAdjoint`` and ``InterpolatingAdjoint`` approximate the
/// derivative of the exact solution to about the tolerance instead). What it does not do: make
/// a loose solve accurate. At reltol 1e-3 the spiral's training (issue #16) can still fail with
/// it: the solve's own error jumps at some parameters (a loss of 1.008 where the accurate one is
/// 0.492) and the exact derivative of that solve is then 186 times the true gradient in norm;
/// whether a run meets such a point is chaotic (a rounding-level change to the network's tanh
/// moved the same run from 13.57 to 0.2005 after 300 iterations; `DefaultToleranceSpiralTests`).
///
/// Cost: the forward solve keeps its dense output (one step start state and the interpolation
/// data per step: memory `O(steps · n)`, the interpolating adjoints' storage); the backward
/// sweep recomputes each step's stages (one `f` evaluation per stage) and takes one product per
/// stage, except the stages whose adjoint is zero (the FSAL last stage of a step with no
/// observation inside it). It needs no backward solve, no error control and no quadrature.
///
/// Limits: explicit Runge-Kutta methods of the ExplicitRK module only (other algorithms throw
/// ``SensitivityError/unsupported(_:)``).
///
/// Performance: on the spiral at the peers' initial weights (Tsit5, 30 observations), tight
/// tolerances (1e-7/1e-9): 12 steps, 82 recomputed stages and 82 products, against 333
/// products (and no extra `f`) for ``QuadratureAdjoint``; default tolerances: 6 steps, 40 and
/// 40, against 306 products. Instructions per spiral gradient, forward solve included
/// (callgrind, `neural-bench --gradient-cost discrete|quadrature 0 N [--default-tolerances]`,
/// N = 3 minus N = 1, over 2): tight 1.73M against the quadrature adjoint's 4.16M, default
/// 1.01M against 3.65M (3.14M and 5.97M, 1.70M and 5.19M before the model kept its stage
/// evaluations, ``ODEModelWithVJP/rhs(_:keeping:u:p:t:du:)``, and the network's tanh was
/// vectorised); after 100 tight Adam iterations (121 steps, 754 products) 14.1M (27.6M before
/// that change, against the quadrature adjoint's 49.7M and the interpolating adjoint's 39.3M). The
/// sweep's buffers and the flattened tableau come from the ``GradientWorkspace`` of a
/// ``GradientContext`` (made once); the loss gradient at each observation allocates, as in the
/// other adjoints. A whole tight spiral gradient through a `SolveLayer` (forward solve
/// included) makes 161 allocations (166 before the kept stages; malloc counter,
/// `neural-bench --malloc-gradients` 11 minus 1, over 10) against the quadrature adjoint's 377;
/// not yet attributed between the forward solve's storage and the 30 loss gradients.
public struct DiscreteAdjoint: _WorkspaceSensitivityAlgorithm, Sendable {
    public init() {}
    public var name: String { "DiscreteAdjoint" }

    /// The forward solve with dense output and every step (the sweep's step start states), kept.
    @inlinable
    public func forwardPass<M: ODEModel, A: ODEAlgorithm>(
        _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan, workspace: GradientWorkspace
    ) throws(SensitivityError) -> [[Double]] {
        _ = try _tableau(algorithm)
        return try _forward(problem.f.model, algorithm, plan, workspace).observed
    }

    /// The tableau of an explicit Runge-Kutta algorithm (through its protocol).
    @inlinable
    func _tableau<A: ODEAlgorithm>(_ algorithm: A) throws(SensitivityError) -> ButcherTableau {
        guard let rk = algorithm as? any ExplicitRKAlgorithm else {
            throw .unsupported(
                "DiscreteAdjoint differentiates explicit Runge-Kutta steps; \(algorithm.name) is not an explicit "
                    + "Runge-Kutta method (use InterpolatingAdjoint or QuadratureAdjoint)")
        }
        return rk.tableau
    }

    @inlinable
    func _forward<M: ODEModel, A: ODEAlgorithm>(
        _ model: M, _ algorithm: A, _ plan: ObservationPlan, _ workspace: GradientWorkspace
    ) throws(SensitivityError) -> _KeptForward {
        let (solution, observed) = try _denseForward(model, algorithm, plan, jacobian: nil)
        let kept = _KeptForward(observed: observed, solution: solution, dense: true)
        workspace.kept = kept
        return kept
    }

    @inlinable
    public func gradient<M: ODEModel, L: PointLoss, A: ODEAlgorithm>(
        of loss: L, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, plan: ObservationPlan,
        workspace: GradientWorkspace
    ) throws(SensitivityError) -> SensitivityResult {
        let tableau = try _tableau(algorithm)
        let model = problem.f.model
        let kept = try workspace._keptForward(dense: true) { () throws(SensitivityError) in
            try _forward(model, algorithm, plan, workspace)
        }
        guard let dense = kept.solution.denseOutput?.piecewisePolynomial, !dense.isEmpty else {
            throw .unsupported("\(algorithm.name) gave no dense output, which DiscreteAdjoint reads its steps from")
        }
        let n = plan.u0.count, np = plan.p.count
        let ws = workspace._adjointWorkspace(model, p: plan.p, n: n)
        let sweep = workspace._discreteWorkspace(tableau, n: n)
        var stats = SensitivityStats(forward: kept.solution.stats)
        stats.peakStoredStates = dense.count + 1
        let observed = kept.observed, times = plan.times, p = plan.p
        var next = times.count - 1
        var value = 0.0
        var mu = [Double](repeating: 0, count: np)
        // λ: the adjoint of the current step's end state, then of its start state.
        sweep.lambda.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        for step in stride(from: dense.count - 1, through: 0, by: -1) {
            let (start, end, h) = dense.withStep(step) { start, end, h, values in
                sweep.start.withUnsafeMutableBufferPointer { s in
                    for m in 0..<n { s[m] = values[m] }
                }
                return (start, end, h)
            }
            // Observations at the step's end (the end of the span, or the next step's start).
            while next >= 0 && times[next] >= end {
                value += loss.valueAndGradient(at: observed[next], times[next], into: &sweep.g)
                sweep.addGradient(to: .lambda)
                next -= 1
            }
            // Observations strictly inside the step: indices interiorLow ... interiorHigh.
            let interiorHigh = next
            while next >= 0 && times[next] > start { next -= 1 }
            let interiorLow = next + 1
            let needed = interiorLow <= interiorHigh ? sweep.interiorStages : sweep.stepStages
            let evaluations = sweep.computeStages(needed, model, ws, p: p, t: start, h: h)
            stats.backwardEvaluations += evaluations
            sweep.seedStages(needed, h: h)
            if interiorLow <= interiorHigh {
                for k in interiorLow...interiorHigh {
                    value += loss.valueAndGradient(at: observed[k], times[k], into: &sweep.g)
                    sweep.addInterior(theta: (times[k] - start) / h, h: h, stages: needed)
                }
            }
            sweep.reverseStages(needed, ws, t: start, h: h, mu: &mu)
            stats.backwardSteps += 1
            if let e = ws.error { throw .reverseMode(e) }
        }
        // Observations at t0.
        while next >= 0 {
            value += loss.valueAndGradient(at: observed[next], times[next], into: &sweep.g)
            sweep.addGradient(to: .lambda)
            next -= 1
        }
        stats.vjps = ws.vjps
        return SensitivityResult(loss: value, dp: mu, du0: sweep.lambda, stats: stats, method: name)
    }
}

extension GradientWorkspace {
    /// The discrete adjoint's buffers for `tableau` and `n` states, made on first use.
    @inlinable
    func _discreteWorkspace(_ tableau: ButcherTableau, n: Int) -> _DiscreteAdjointWorkspace {
        if let ws = discrete as? _DiscreteAdjointWorkspace, ws.n == n, ws.matches(tableau) { return ws }
        let ws = _DiscreteAdjointWorkspace(tableau, n: n)
        discrete = ws
        return ws
    }
}

/// The tableau in flat arrays and the buffers of one step's reverse sweep, made once per
/// ``GradientContext`` (a step of the sweep allocates nothing). The buffers are
/// `@exclusivity(unchecked)`: one gradient uses them on one thread, and their dynamic access
/// checks cost 130k instructions of a tight spiral gradient's 2.7M (callgrind).
@usableFromInline
final class _DiscreteAdjointWorkspace {
    @usableFromInline let n: Int
    @usableFromInline let name: String
    @usableFromInline let tableauC: [Double]
    @usableFromInline let tableauB: [Double]
    /// Method stages `s`, and with the interpolant's extra stages.
    @usableFromInline let stages: Int
    @usableFromInline let totalStages: Int
    /// Stages whose adjoint can be nonzero in a step without an observation inside it (up to the
    /// last nonzero weight `b_i`: an FSAL method's last stage only serves the next step and the
    /// error estimate), and in a step with one (every stage the interpolant weighs).
    @usableFromInline let stepStages: Int
    @usableFromInline let interiorStages: Int
    @usableFromInline let c: [Double]
    /// Row `i` of `A` (extra stages included) at `i(i−1)/2`.
    @usableFromInline let a: [Double]
    @usableFromInline let b: [Double]
    /// `b_i(θ) = Σ_q poly[i·degree + q] θ^(q+1)`; empty for a linear dense output.
    @usableFromInline let poly: [Double]
    @usableFromInline let degree: Int
    /// Stage arguments `U_i` and values `k_i`, stage `i` at `i·n`.
    @exclusivity(unchecked) @usableFromInline var arguments: [Double]
    @exclusivity(unchecked) @usableFromInline var values: [Double]
    /// Stage adjoints `k̄_i`.
    @exclusivity(unchecked) @usableFromInline var stageAdjoints: [Double]
    @exclusivity(unchecked) @usableFromInline var start: [Double]
    @exclusivity(unchecked) @usableFromInline var lambda: [Double]
    @exclusivity(unchecked) @usableFromInline var g: [Double]
    @exclusivity(unchecked) @usableFromInline var argument: [Double]
    @exclusivity(unchecked) @usableFromInline var derivative: [Double]
    @exclusivity(unchecked) @usableFromInline var weights: [Double]
    /// Stages `0..<keptStages` of the latest ``computeStages(_:_:_:p:t:h:)`` are kept by the model.
    @usableFromInline var keptStages = 0

    @usableFromInline enum Target { case lambda }

    @inlinable
    init(_ tableau: ButcherTableau, n: Int) {
        self.n = n
        name = tableau.name
        tableauC = tableau.c
        tableauB = tableau.b
        let extension_ = tableau.interpolant
        stages = tableau.stages
        totalStages = stages + (extension_?.extraC.count ?? 0)
        c = tableau.c + (extension_?.extraC ?? [])
        a = (tableau.a + (extension_?.extraA ?? [])).flatMap { $0 }
        b = tableau.b + [Double](repeating: 0, count: totalStages - stages)
        stepStages = (tableau.b.lastIndex(where: { $0 != 0 }) ?? 0) + 1
        if let polys = extension_?.coefficients {
            let d = polys.map(\.count).max() ?? 0
            var flat = [Double](repeating: 0, count: totalStages * d)
            for (j, row) in polys.enumerated() where j < totalStages { for (q, x) in row.enumerated() { flat[j * d + q] = x } }
            poly = flat
            degree = d
            interiorStages = (polys.lastIndex(where: { $0.contains { $0 != 0 } }) ?? 0) + 1
        } else {
            poly = []
            degree = 0
            interiorStages = stepStages
        }
        arguments = [Double](repeating: 0, count: totalStages * n)
        values = arguments
        stageAdjoints = arguments
        start = [Double](repeating: 0, count: n)
        lambda = start
        g = start
        argument = start
        derivative = start
        weights = [Double](repeating: 0, count: totalStages)
    }

    /// Whether this workspace was made for `tableau` (the same coefficients under the same name).
    @inlinable
    func matches(_ tableau: ButcherTableau) -> Bool {
        tableau.name == name && tableau.c == tableauC && tableau.b == tableauB
    }

    /// `λ += g`.
    @inlinable
    func addGradient(to: Target) {
        let n = self.n
        g.withUnsafeBufferPointer { g in lambda.withUnsafeMutableBufferPointer { l in for m in 0..<n { l[m] += g[m] } } }
    }

    /// Recomputes stages `0..<count` of the step from `start` with step `h` at `t` (the forward
    /// stepper's formulas); returns the evaluations of `f`. A model with its own products keeps
    /// stage `i`'s evaluation under slot `i` when it can (``ODEModelWithVJP``), and
    /// ``reverseStages(_:_:t:h:mu:)`` then takes the products from it.
    @inlinable
    func computeStages<M: ODEModel>(
        _ count: Int, _ model: M, _ ws: _AdjointWorkspace<M>, p: [Double], t: Double, h: Double
    ) -> Int {
        let custom = ws.engine.custom
        keptStages = 0
        let n = self.n
        for i in 0..<count {
            let row = i * (i - 1) / 2
            start.withUnsafeBufferPointer { u in
                values.withUnsafeBufferPointer { k in
                    a.withUnsafeBufferPointer { a in
                        argument.withUnsafeMutableBufferPointer { arg in
                            for m in 0..<n {
                                var acc = u[m]
                                for j in 0..<i { acc += k[j * n + m] * (h * a[row + j]) }
                                arg[m] = acc
                            }
                        }
                    }
                }
            }
            let ti = t + c[i] * h
            if let custom, custom.keptRHS(i, argument, p, ti, &derivative) {
                if keptStages == i { keptStages = i + 1 }
            } else {
                model.lengthCheckedRHS(&derivative, argument, p, ti)
            }
            let base = i * n
            argument.withUnsafeBufferPointer { arg in
                derivative.withUnsafeBufferPointer { d in
                    arguments.withUnsafeMutableBufferPointer { U in
                        values.withUnsafeMutableBufferPointer { k in
                            for m in 0..<n {
                                U[base + m] = arg[m]
                                k[base + m] = d[m]
                            }
                        }
                    }
                }
            }
        }
        return count
    }

    /// `k̄_i = h b_i λ` for the stages `0..<count` (λ is the end state's adjoint and stays as the
    /// start state's identity part).
    @inlinable
    func seedStages(_ count: Int, h: Double) {
        let n = self.n
        lambda.withUnsafeBufferPointer { l in
            b.withUnsafeBufferPointer { b in
                stageAdjoints.withUnsafeMutableBufferPointer { kb in
                    for i in 0..<count {
                        let w = h * b[i]
                        for m in 0..<n { kb[i * n + m] = w * l[m] }
                    }
                }
            }
        }
    }

    /// Adds the cotangent `g` of the state saved at `θ` inside the step:
    /// `u(θ) = u_n + h Σ_i b_i(θ) k_i` (`θ b_i` for a linear dense output).
    @inlinable
    func addInterior(theta: Double, h: Double, stages count: Int) {
        let n = self.n, d = degree
        weights.withUnsafeMutableBufferPointer { w in
            if d == 0 {
                for i in 0..<count { w[i] = theta * b[i] }
                return
            }
            poly.withUnsafeBufferPointer { poly in
                for i in 0..<count {
                    // Horner in θ, then the factor θ of the lowest power.
                    var s = 0.0
                    var q = d - 1
                    while q >= 0 {
                        s = poly[i * d + q] + s * theta
                        q -= 1
                    }
                    w[i] = s * theta
                }
            }
        }
        g.withUnsafeBufferPointer { g in
            lambda.withUnsafeMutableBufferPointer { l in for m in 0..<n { l[m] += g[m] } }
            weights.withUnsafeBufferPointer { w in
                stageAdjoints.withUnsafeMutableBufferPointer { kb in
                    for i in 0..<count where w[i] != 0 {
                        let hw = h * w[i]
                        for m in 0..<n { kb[i * n + m] += hw * g[m] }
                    }
                }
            }
        }
    }

    /// The reverse sweep over stages `count − 1 … 0`: one product per stage with a nonzero
    /// adjoint, its state part into λ (now the start state's adjoint) and the earlier stages'
    /// adjoints, its parameter part into `mu`.
    @inlinable
    func reverseStages<M: ODEModel>(_ count: Int, _ ws: _AdjointWorkspace<M>, t: Double, h: Double, mu: inout [Double]) {
        let n = self.n, np = mu.count
        for i in stride(from: count - 1, through: 0, by: -1) {
            let base = i * n
            let nonzero = stageAdjoints.withUnsafeBufferPointer { kb in
                var any = false
                for m in 0..<n where kb[base + m] != 0 { any = true }
                return any
            }
            guard nonzero else { continue }
            arguments.withUnsafeBufferPointer { U in
                stageAdjoints.withUnsafeBufferPointer { kb in
                    ws.u.withUnsafeMutableBufferPointer { u in for m in 0..<n { u[m] = U[base + m] } }
                    ws.lambda.withUnsafeMutableBufferPointer { l in for m in 0..<n { l[m] = kb[base + m] } }
                }
            }
            if i < keptStages { ws.keptVJP(slot: i, t: t + c[i] * h) } else { ws.vjp(t: t + c[i] * h) }
            let row = i * (i - 1) / 2
            ws.vjpU.withUnsafeBufferPointer { v in
                lambda.withUnsafeMutableBufferPointer { l in for m in 0..<n { l[m] += v[m] } }
                a.withUnsafeBufferPointer { a in
                    stageAdjoints.withUnsafeMutableBufferPointer { kb in
                        for j in 0..<i {
                            let w = h * a[row + j]
                            guard w != 0 else { continue }
                            for m in 0..<n { kb[j * n + m] += w * v[m] }
                        }
                    }
                }
            }
            ws.vjpP.withUnsafeBufferPointer { v in
                mu.withUnsafeMutableBufferPointer { mu in for k in 0..<np { mu[k] += v[k] } }
            }
        }
    }
}
