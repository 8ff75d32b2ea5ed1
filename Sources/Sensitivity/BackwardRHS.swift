import DiffEqCore

/// The right-hand side (and Jacobian) of a backward system a gradient builds and solves inside
/// one call. Its closures share the gradient's workspace (buffers and counters in a class, so a
/// step allocates nothing) and are therefore not `@Sendable`, which ``ClosureRHS`` requires of a
/// user's closures: this type is deliberately not `Sendable`, and the compiler keeps the
/// problems built from it on the thread of the gradient that made them.
@usableFromInline
struct _BackwardRHS: ODEFunction {
    @usableFromInline typealias Function = (inout [Double], [Double], [Double], Double) -> Void

    @usableFromInline let f: Function
    @usableFromInline let jac: Function?

    @inlinable init(_ f: @escaping Function, jacobian: Function? = nil) {
        self.f = f
        self.jac = jacobian
    }

    // The library's own closures write every entry of `du` and never resize it.
    @inlinable @inline(__always)
    func callAsFunction(_ du: inout [Double], _ u: [Double], _ p: [Double], _ t: Double) { f(&du, u, p, t) }

    @inlinable var hasAnalyticJacobian: Bool { jac != nil }

    @inlinable
    func jacobian(_ J: inout [Double], _ u: [Double], _ p: [Double], _ t: Double) { jac?(&J, u, p, t) }
}
