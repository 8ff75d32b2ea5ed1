import DiffEqCore

/// A delay equation's right-hand side as an ordinary ``ODEFunction``: it evaluates the user's
/// `f(du, u, h, p, t)` with `h` the shared ``DDEHistory``. This is how the method of steps runs
/// every native method unchanged: the stepper sees an ODE whose right-hand side happens to read
/// the past, and ``MethodOfSteps`` appends each accepted step to that past.
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

    @inlinable
    public func callAsFunction(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar) {
        history.stageTime = t.primal
        if history.couplingStep > 0 { history.setStageState(u) }
        dde(&du, u, history, p, t)
    }
}
