import DiffEqCore
import Synchronization

/// Locates the discontinuities that state-dependent lags propagate: where `t − τ_j(u(t), p, t)`
/// crosses a known discontinuity `d` of the past, the solution's derivative of one order higher
/// than `d`'s jumps (Bellen & Zennaro 2003, §4.1; Corwin, Sarafyan & Thompson 1997, DKLAG6). For
/// each lag one continuous callback watches `g_j(t) = t − τ_j(u(t), p, t) − d_j`, `d_j` the next
/// known discontinuity ahead of `t_n − τ_j` (changed only between steps, so `g_j` is continuous
/// inside a step); the integrator finds its root on the dense output and cuts the step there, so
/// the method steps onto it as onto a `tstop`. New points enter the list with their order, up to
/// the method's order.
///
/// Performance: the conditions read plain copies of `u` and `p` (one allocation per evaluation);
/// only solves with dependent lags and tracking on pay it.
@usableFromInline
final class DependentLagTracker: Sendable {
    struct State {
        /// Known discontinuities, sorted by time, with the order of the derivative that jumps.
        var points: [(t: Double, order: Int)]
        /// Per lag: the discontinuity `g_j` watches, `nil` when none is ahead.
        var next: [Double?]
        /// An event fired during the last step (the method must restart at the cut).
        var fired = false
        /// The last event's lag and the point it crossed, when `f` itself jumps there.
        var jump: (lag: Int, point: Double)?
    }

    @usableFromInline let lags: [DependentLag]
    let maxOrder: Int
    let tolerance: Double
    /// Crossing a point of this order makes `f` itself jump (0: `u` jumps there; `nil` for a
    /// neutral equation, whose moving jumps are not corrected, see `jumpCorrected`).
    let jumpOrder: Int?
    let state: Mutex<State>

    @usableFromInline
    init(
        lags: [DependentLag], points: [(t: Double, order: Int)], maxOrder: Int, tolerance: Double, neutral: Bool
    ) {
        self.lags = lags
        self.maxOrder = maxOrder
        self.tolerance = tolerance
        self.jumpOrder = neutral ? nil : 0
        self.state = Mutex(State(points: points.sorted { $0.t < $1.t }, next: [Double?](repeating: nil, count: lags.count)))
    }

    func condition(_ j: Int, u: [Double], p: [Double], t: Double) -> Double {
        guard let d = state.withLock({ $0.next[j] }) else { return 1 }
        return t - lags[j](u, p, t) - d
    }

    /// The event of lag `j` at `t`: a new discontinuity one order above the one crossed.
    func record(_ j: Int, at t: Double) {
        state.withLock { s in
            s.fired = true
            guard let d = s.next[j], let crossed = s.points.first(where: { abs($0.t - d) <= tolerance }) else { return }
            if crossed.order == jumpOrder { s.jump = (j, crossed.t) }
            let order = crossed.order + 1
            guard order <= maxOrder else { return }
            let at = s.points.firstIndex { $0.t > t } ?? s.points.count
            s.points.insert((t, order), at: at)
        }
    }

    /// After each accepted step at `(t, u)`: what each condition watches next. Returns whether an
    /// event cut the step (the method must then restart from the cut).
    @usableFromInline
    func advance(u: [Double], p: [Double], t: Double) -> Bool {
        let delayed = lags.map { t - $0(u, p, t) }
        return state.withLock { s in
            for j in lags.indices {
                let a = delayed[j]
                s.next[j] = a.isFinite
                    ? s.points.first(where: { $0.t > a + tolerance && $0.order < maxOrder })?.t : nil
            }
            defer { s.fired = false }
            return s.fired
        }
    }

    /// The lag and the crossed point of the last event if `f` jumps there (once: it is cleared).
    @usableFromInline
    func takeJump() -> (lag: Int, point: Double)? {
        state.withLock { s in
            defer { s.jump = nil }
            return s.jump
        }
    }

    /// One continuous callback per lag, in the solve's scalar.
    @usableFromInline
    func callbacks<S: DiffEqScalar>(_: S.Type) -> CallbackSet<S> {
        CallbackSet(
            continuous: lags.indices.map { j in
                ContinuousCallback<S>(
                    condition: { u, t, p in self.condition(j, u: u.map(\.primal), p: p.map(\.primal), t: t) },
                    affect: { context in self.record(j, at: context.t) }, interpolationPoints: 2,
                    savePositions: (false, false))
            })
    }
}

extension MethodOfStepsDriver {
    /// The state just after a located point `t*` where `f` itself jumps (`t − τ(u(t), p, t)`
    /// crosses the point `ξ` where `u` jumps, `u0 ≠ φ(t0)`), carrying the derivative of the jump's
    /// motion. The steps are fixed by the primal solve, so a derivative through them sees `f_L`
    /// up to `t*` and `f_R` after it wherever `t*` moves; but `t*` moves with `p` and `u0`, and the
    /// sensitivity `s = ∂u/∂x` jumps there as at any state-dependent event (the saltation
    /// relation of hybrid systems, e.g. Hiskens & Pai, IEEE TCAS-I 47 (2000) 204-220):
    ///
    ///     s⁺ = s⁻ + (f_L − f_R)·dt*/dx,   dt*/dx = −(∂g/∂u·s⁻ + ∂g/∂x)/(dg/dt),
    ///
    /// `g(t) = t − τ(u(t), p, t) − ξ`, `dg/dt = 1 − τ_u·f_L − τ_t` along the trajectory before
    /// `t*` (implicit function theorem at the root). `ξ = t0` does not move. The numerator is
    /// the derivative part of the delayed time `f` computes at `t*`, read exactly in the solve's
    /// scalar (dual partials or the tape's record; `DDEHistory.captured`); `dg/dt` is a primal
    /// number, a central difference of the `Double` lag closure along `f_L` (step `1e-6·max(1, |t*|)`,
    /// relative error ~1e-10, which only scales the correction). `f_L` and `f_R` are `f` at `t*`
    /// read from the two sides of `ξ` (as the last stage of the step that ends at `t*` and the
    /// first of the next one). Without it, forward mode and the adjoint are off by 16-172%
    /// (`DependentLagGradientTests`).
    ///
    /// The same holds at the stops `t0 + τ` of constant lags (`lag` `nil`: `dg/dt = 1`), which
    /// move with a lag that is a parameter.
    ///
    /// Returns `nil` when `f` reads no time near `ξ` (then nothing moves).
    @inlinable
    func jumpCorrected(
        _ u: [D.Scalar], p: [D.Scalar], f: D, t: Double, lastStepStart: Double, lag: DependentLag?, crossing xi: Double
    ) -> [D.Scalar]? {
        typealias S = D.Scalar
        let h = history
        // A plain solve carries no derivative to correct.
        guard S.componentCount > 1 || h.timeOnTape else { return nil }
        let coupling = h.couplingStep, start = h.stepStart
        defer {
            h.couplingStep = coupling
            h.stepStart = start
            h.capturing = false
            h.captured = nil
            h.sideTolerance = h.boundaryTolerance
        }
        h.couplingStep = 0
        h.capturing = true
        h.captureTarget = xi
        h.captured = nil
        func evaluate(left: Bool) -> [S] {
            var du = u
            h.stepStart = left ? lastStepStart : t
            h.stageTime = t
            f(&du, u, h, p, S(t))
            return du
        }
        var right = evaluate(left: false)
        guard let delayed = h.captured else { return nil }
        let offset = Swift.abs(delayed.primal - xi)
        // A read this far from ξ is not the crossing (f reads nothing near ξ, so f does not jump).
        guard offset <= 1e-8 * Swift.max(1, Swift.abs(t)) else { return nil }
        if offset > h.boundaryTolerance {
            // The root is located to a few ulps of t*, not of the delayed time: read the sides
            // with that offset as the boundary.
            h.sideTolerance = 2 * offset
            right = evaluate(left: false)
        }
        let left = evaluate(left: true)
        let fl = left.map(\.primal)
        var gt = 1.0
        if let lag {
            let up = u.map(\.primal), e = 1e-6 * Swift.max(1, Swift.abs(t))
            let ahead = zip(up, fl).map { $0 + e * $1 }, behind = zip(up, fl).map { $0 - e * $1 }
            gt = 1 - (lag(ahead, plainP, t + e) - lag(behind, plainP, t - e)) / (2 * e)
        }
        guard gt.isFinite, gt != 0 else { return nil }
        // dt*/dx as a scalar whose primal is zero.
        let dt = (S(delayed.primal) - delayed).scaled(by: 1 / gt)
        return u.indices.map { i in u[i] + dt.scaled(by: fl[i] - right[i].primal) }
    }
}

extension MethodOfStepsDriver {
    /// `jumpCorrected` for the step `integrator` just accepted onto a jump point, `nil` when off
    /// (`movingJumps`) or nothing moves.
    @inlinable
    func correctedForMovingJump<S: ODEStepper>(
        _ integrator: ODEIntegrator<S>, lag: DependentLag?, crossing xi: Double
    ) -> [D.Scalar]? where S.Function == DelayedRHS<D> {
        guard movingJumps, history.count > 0 else { return nil }
        return jumpCorrected(
            integrator.u, p: integrator.p, f: integrator.problem.f.dde, t: integrator.t,
            lastStepStart: history.dense.start(ofStep: history.count - 1), lag: lag, crossing: xi)
    }
}
