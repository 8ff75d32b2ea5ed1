import DiffEqCore

/// A stochastic initial-value problem `du = f(u, p, t) dt + g(u, p, t) dW`, `u(t0) = u0`,
/// `t` in `tspan`, with the noise kind saying how `g` couples to the Wiener processes.
///
/// Whether `dW` is read in the Itô or the Stratonovich sense is a property of the method (each
/// method's documentation states it), as in StochasticDiffEq.jl.
///
/// ```swift
/// // Geometric Brownian motion, Itô: du = 1.01 u dt + 0.87 u dW.
/// let prob = SDEProblem(
///     f: { du, u, p, _ in du[0] = p[0] * u[0] },
///     g: { g, u, p, _ in g[0] = p[1] * u[0] },
///     u0: [0.5], tspan: (0, 1), p: [1.01, 0.87])
/// ```
///
/// Solving: `solve(prob, SOSRI(), options:)` draws from the ``WienerProcess`` of ``seed``;
/// `solve(prob, alg, noise:options:)` takes any ``NoiseProcess`` (a ``BrownianTreeNoise`` or a
/// ``NoiseGrid`` to fix the path). Both run on the shared integrator loop (``SDELoopStepper``).
public struct SDEProblem<F: SDEFunction> {
    public typealias Scalar = F.Scalar
    public var f: F
    public var u0: [Scalar]
    public var tspan: (Double, Double)
    public var p: [Scalar]
    public var noise: NoiseKind
    /// The seed of the ``WienerProcess`` that `solve(problem, algorithm, options:)` draws from
    /// (the `seed` of StochasticDiffEq.jl's `SDEProblem`); an ensemble sets it per trajectory.
    public var seed: UInt64 = 0

    public init(_ f: F, u0: [Scalar], tspan: (Double, Double), p: [Scalar] = [], noise: NoiseKind = .diagonal) {
        self.f = f
        self.u0 = u0
        self.tspan = tspan
        self.p = p
        self.noise = noise
    }

    /// A copy with any of `u0`, `tspan`, `p` and `seed` replaced.
    public func remake(u0: [Scalar]? = nil, tspan: (Double, Double)? = nil, p: [Scalar]? = nil, seed: UInt64? = nil) -> SDEProblem {
        var copy = self
        if let u0 { copy.u0 = u0 }
        if let tspan { copy.tspan = tspan }
        if let p { copy.p = p }
        if let seed { copy.seed = seed }
        return copy
    }

    /// Number of states `n`.
    @inlinable public var stateCount: Int { u0.count }
    /// Number of Wiener processes `m`.
    @inlinable public var wienerCount: Int { noise.wienerCount(states: u0.count) }
}

extension SDEProblem {
    /// The closure form (quick form; no derivatives through `f` and `g` other than for `S`).
    public init<S: DiffEqScalar>(
        f: @escaping SDEClosures<S>.Function, g: @escaping SDEClosures<S>.Function,
        u0: [S], tspan: (Double, Double), p: [S] = [], noise: NoiseKind = .diagonal
    ) where F == SDEClosures<S> {
        self.init(SDEClosures(f: f, g: g), u0: u0, tspan: tspan, p: p, noise: noise)
    }

    /// The generic model form: the same model at any scalar (`Double`, `Dual`, ...).
    public init<M: SDEModel, S: DiffEqScalar>(
        model: M, u0: [S], tspan: (Double, Double), p: [S] = [], noise: NoiseKind = .diagonal
    ) where F == GenericSDE<M, S> {
        self.init(GenericSDE(model, as: S.self), u0: u0, tspan: tspan, p: p, noise: noise)
    }
}

extension SDEProblem: Sendable where F: Sendable {}
