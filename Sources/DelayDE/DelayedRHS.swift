import DiffEqCore

/// A delay equation's right-hand side as an ordinary ``ODEFunction``: it evaluates the user's
/// `f(du, u, h, p, t)` with `h` the shared ``DDEHistory``. This is how the method of steps runs
/// every native method unchanged: the stepper sees an ODE whose right-hand side happens to read
/// the past, which grows by each accepted step (the integrator's own dense output).
///
/// Jacobians (stiff methods) are finite differences of this function in `u` with the past held
/// fixed, the `∂f/∂u(t)` block of the method of steps; no forward-mode AD of the wrapper.
public struct DelayedRHS<D: DDEFunction>: ODEFunction {
    public typealias Scalar = D.Scalar
    @usableFromInline let dde: D
    @usableFromInline let history: DDEHistory<Scalar>

    @inlinable
    init(_ dde: D, history: DDEHistory<Scalar>) {
        self.dde = dde
        self.history = history
    }

    @inlinable @inline(__always)
    public func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        history.stageTime = t.primal
        if history.couplingStep > 0 { history.setStageState(u) }
        if let (epsilon, lag) = history.lagScaling {
            // In s (DDEHistory.lagScaling): du/ds = (τ/τ̄)·f(u, h, p, t0 + (τ/τ̄)(s − t0)).
            dde(&du, u, history, p, t + epsilon.scaled(by: (t.primal - history.t0) / lag))
            let rate = epsilon.scaled(by: 1 / lag)
            for i in du.indices { du[i] = du[i] + du[i] * rate }
            return
        }
        dde(&du, u, history, p, t)
    }
}
