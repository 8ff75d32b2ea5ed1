/// What an event's `affect` may read and change: the state, the parameters, and whether the
/// integration goes on. Changes to `u` or `p` restart the method from the new values.
public struct EventContext<Scalar: DiffEqScalar>: Sendable {
    /// The state at the event (write to change it, as `integrator.u[i] = ...` in Julia).
    public var u: [Scalar]
    /// The parameters (write to change them from here on: doses, switches).
    public var p: [Scalar]
    /// The time of the event.
    public let t: Double
    @usableFromInline var stop = false

    public init(u: [Scalar], p: [Scalar], t: Double) {
        self.u = u
        self.p = p
        self.t = t
    }

    /// Ends the integration after this event (`terminate!` in DifferentialEquations.jl); the
    /// solution's return code is ``ReturnCode/terminated``.
    public mutating func terminate() { stop = true }

    /// Whether ``terminate()`` was called.
    public var isTerminated: Bool { stop }
}

/// An event at a zero crossing of `condition(u, t, p)`, located by root-finding on the
/// method's dense output (continuous callback).
///
/// `affect` runs at upcrossings (condition going from negative to positive) and
/// `affectNeg` at downcrossings; the plain initialiser uses one affect for both, as
/// `ContinuousCallback(condition, affect!)` does.
public struct ContinuousCallback<Scalar: DiffEqScalar>: Sendable {
    public typealias Condition = @Sendable ([Scalar], Double, [Scalar]) -> Double
    public typealias Affect = @Sendable (inout EventContext<Scalar>) -> Void

    public let condition: Condition
    public let affect: Affect?
    public let affectNeg: Affect?
    /// Points checked for a sign change inside each step, besides its ends (catches a double
    /// crossing inside one step).
    public let interpolationPoints: Int
    /// Save the state just before and just after the affect.
    public let savePositions: (before: Bool, after: Bool)

    /// The same `affect` at up- and downcrossings.
    public init(
        condition: @escaping Condition, affect: @escaping Affect, interpolationPoints: Int = 10,
        savePositions: (before: Bool, after: Bool) = (true, true)
    ) {
        self.init(
            condition: condition, upcrossing: affect, downcrossing: affect,
            interpolationPoints: interpolationPoints, savePositions: savePositions)
    }

    /// Separate affects for upcrossings and downcrossings; `nil` ignores that direction.
    public init(
        condition: @escaping Condition, upcrossing: Affect?, downcrossing: Affect?,
        interpolationPoints: Int = 10, savePositions: (before: Bool, after: Bool) = (true, true)
    ) {
        self.condition = condition
        self.affect = upcrossing
        self.affectNeg = downcrossing
        self.interpolationPoints = Swift.max(0, interpolationPoints)
        self.savePositions = savePositions
    }
}

/// An event checked after every accepted step: when `condition(u, t, p)` is true, `affect`
/// runs (discrete callback).
public struct DiscreteCallback<Scalar: DiffEqScalar>: Sendable {
    public typealias Condition = @Sendable ([Scalar], Double, [Scalar]) -> Bool
    public let condition: Condition
    public let affect: ContinuousCallback<Scalar>.Affect
    public let savePositions: (before: Bool, after: Bool)

    public init(
        condition: @escaping Condition, affect: @escaping ContinuousCallback<Scalar>.Affect,
        savePositions: (before: Bool, after: Bool) = (false, true)
    ) {
        self.condition = condition
        self.affect = affect
        self.savePositions = savePositions
    }
}

/// A set of callbacks (`CallbackSet`): continuous ones are handled first, earliest event
/// first, then the discrete ones in order.
public struct CallbackSet<Scalar: DiffEqScalar>: Sendable {
    public var continuous: [ContinuousCallback<Scalar>]
    public var discrete: [DiscreteCallback<Scalar>]

    public init(continuous: [ContinuousCallback<Scalar>] = [], discrete: [DiscreteCallback<Scalar>] = []) {
        self.continuous = continuous
        self.discrete = discrete
    }

    public init(_ callback: ContinuousCallback<Scalar>) { self.init(continuous: [callback]) }
    public init(_ callback: DiscreteCallback<Scalar>) { self.init(discrete: [callback]) }

    public var isEmpty: Bool { continuous.isEmpty && discrete.isEmpty }
}

/// Root of `g` between `a` and `b` (`g(a)` and `g(b)` of opposite signs) by the Illinois
/// variant of regula falsi (Dowell & Jarratt, BIT 11 (1971) 168-174), to the resolution of
/// `Double`. Returns the bracket end on `b`'s side of the root, so that the condition has
/// already changed sign at the returned time.
@usableFromInline
func findRoot(_ g: (Double) -> Double, a: Double, b: Double, ga: Double, gb: Double) -> Double {
    var (a, b, ga, gb) = (a, b, ga, gb)
    var side = 0
    for _ in 0..<200 {
        if Swift.abs(b - a) <= 2 * Swift.max(Swift.abs(a).ulp, Swift.abs(b).ulp) { break }
        var t = (a * gb - b * ga) / (gb - ga)
        // Keep the secant point strictly inside the bracket; fall back to bisection.
        if !(t > Swift.min(a, b) && t < Swift.max(a, b)) { t = 0.5 * (a + b) }
        let gt = g(t)
        if gt == 0 { return t }
        if (gt > 0) == (gb > 0) {
            b = t
            gb = gt
            if side == 1 { ga *= 0.5 }
            side = 1
        } else {
            a = t
            ga = gt
            if side == -1 { gb *= 0.5 }
            side = -1
        }
    }
    return b
}
