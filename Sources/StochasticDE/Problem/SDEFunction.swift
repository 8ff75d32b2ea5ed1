import DiffEqCore

// Two ways to give drift and diffusion, as for ODEs (DESIGN.md §1): closures over one scalar
// type (the quick form) or a model type whose methods are generic over `DiffEqScalar` (so that
// the same definition runs with `Double` and with `Dual`, and pathwise derivatives flow through
// a solve). The kernels are generic over `SDEFunction`, so either form is specialised.

/// Drift `f` and diffusion `g` of `du = f(u, p, t) dt + g(u, p, t) dW`, written in place.
public protocol SDEFunction {
    associatedtype Scalar: DiffEqScalar
    /// Writes `f(u, p, t)` into `du` (length of `u`).
    func drift(_ du: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar)
    /// Writes `g(u, p, t)` into `g`, whose length is ``NoiseKind/diffusionLength(states:)``.
    func diffusion(_ g: inout [Scalar], _ u: [Scalar], _ p: [Scalar], _ t: Scalar)
}

/// A model written once over the scalar protocol.
///
/// ```swift
/// struct GBM: SDEModel {
///     func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] }
///     func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { g[0] = p[1] * u[0] }
/// }
/// ```
public protocol SDEModel {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S)
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S)
}

/// The closure form over one scalar type.
public struct SDEClosures<S: DiffEqScalar>: SDEFunction, Sendable {
    public typealias Function = @Sendable (inout [S], [S], [S], S) -> Void
    public let f: Function
    public let g: Function

    public init(f: @escaping Function, g: @escaping Function) {
        self.f = f
        self.g = g
    }

    @inlinable public func drift(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { f(&du, u, p, t) }
    @inlinable public func diffusion(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { self.g(&g, u, p, t) }
}

/// A model instantiated at one scalar type.
public struct GenericSDE<M: SDEModel, S: DiffEqScalar>: SDEFunction {
    public let model: M

    public init(_ model: M, as _: S.Type = S.self) { self.model = model }

    @inlinable public func drift(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { model.drift(&du, u, p, t) }
    @inlinable public func diffusion(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { model.diffusion(&g, u, p, t) }
}

extension GenericSDE: Sendable where M: Sendable {}
