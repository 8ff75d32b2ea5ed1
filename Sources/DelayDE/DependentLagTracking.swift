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
    }

    let lags: [DependentLag]
    let maxOrder: Int
    let tolerance: Double
    let state: Mutex<State>

    @usableFromInline
    init(lags: [DependentLag], points: [(t: Double, order: Int)], maxOrder: Int, tolerance: Double) {
        self.lags = lags
        self.maxOrder = maxOrder
        self.tolerance = tolerance
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
