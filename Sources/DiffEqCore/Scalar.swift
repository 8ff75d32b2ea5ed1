// The scalar protocol: what a right-hand side written once in generic form may use.
//
// Double and Float conform here; the AD layer's dual and reverse-mode scalars conform in their
// own module. The protocol is deliberately smaller than `FloatingPoint`: a dual number has no
// meaningful ulp, exponent or NaN payload, and a tracked reverse-mode scalar cannot be compared
// bitwise. What the solvers need beyond arithmetic is the primal value (for step control) and the
// sum of squares of all components (so that the error norm sees derivatives, DESIGN.md §4).

/// A real scalar that states, parameters and right-hand sides are generic over.
///
/// Write a model once over `some DiffEqScalar` and it runs with `Double`, `Float`, and the
/// automatic-differentiation scalars:
///
/// ```swift
/// struct LotkaVolterra: ODEModel {
///     func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
///         du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
///         du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
///     }
/// }
/// ```
public protocol DiffEqScalar: Comparable, AdditiveArithmetic, ExpressibleByFloatLiteral,
    ExpressibleByIntegerLiteral, CustomStringConvertible, Sendable
{
    /// Converts a `Double` constant (a tableau coefficient, a tolerance) to this scalar.
    init(_ value: Double)

    /// The value without any derivative parts, as a `Double` (time, step size and error
    /// control are always carried in `Double`).
    var primal: Double { get }

    /// Sum of the squares of every component (value and partials), and
    /// ``componentCount`` says how many there are: the integrators' RMS error norm uses both, so
    /// that derivatives carried by the scalar are controlled to the same tolerance.
    var sumOfSquaredComponents: Double { get }

    /// Number of components counted by ``sumOfSquaredComponents`` (1 for plain reals).
    static var componentCount: Int { get }

    /// `N` when this scalar is a first-order dual number over `Double` with `N` partials (so
    /// `ε_j ε_k = 0`, and `scaled(by:)`, `+` and `−` act on each component alone), stored as
    /// `1 + N` consecutive `Double`s, the value first; `nil` for every other scalar (the
    /// default). Linear algebra uses it: a dual linear system
    /// `(A + Σ ε_k A_k)(x + Σ ε_k x_k) = b + Σ ε_k b_k` needs only the factors of `A`
    /// (`A x = b`, `A x_k = b_k − A_k x`), not a factorization in dual arithmetic.
    static var firstOrderPartialCount: Int? { get }

    /// `true` when the value and every partial are finite.
    var isFiniteScalar: Bool { get }

    /// This scalar multiplied by a plain `Double` (a tableau weight or a step size). For a dual
    /// number this scales value and partials without forming a dual product.
    func scaled(by factor: Double) -> Self

    static func * (lhs: Self, rhs: Self) -> Self
    static func / (lhs: Self, rhs: Self) -> Self
    static func *= (lhs: inout Self, rhs: Self)
    static func /= (lhs: inout Self, rhs: Self)
    static prefix func - (operand: Self) -> Self

    static func exp(_ x: Self) -> Self
    static func expm1(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    static func sin(_ x: Self) -> Self
    static func cos(_ x: Self) -> Self
    static func tan(_ x: Self) -> Self
    static func asin(_ x: Self) -> Self
    static func acos(_ x: Self) -> Self
    static func atan(_ x: Self) -> Self
    static func sinh(_ x: Self) -> Self
    static func cosh(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func sqrt(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func pow(_ x: Self, _ n: Int) -> Self
    static func abs(_ x: Self) -> Self
}

// Free functions so that generic model code reads like the mathematics: `exp(u[0])`, not
// `S.exp(u[0])`. They forward to the static requirements and are inlinable so that a model
// specialised for `Double` calls libm directly.
@inlinable @inline(__always) public func exp<S: DiffEqScalar>(_ x: S) -> S { S.exp(x) }
@inlinable @inline(__always) public func expm1<S: DiffEqScalar>(_ x: S) -> S { S.expm1(x) }
@inlinable @inline(__always) public func log<S: DiffEqScalar>(_ x: S) -> S { S.log(x) }
@inlinable @inline(__always) public func log1p<S: DiffEqScalar>(_ x: S) -> S { S.log1p(x) }
@inlinable @inline(__always) public func sin<S: DiffEqScalar>(_ x: S) -> S { S.sin(x) }
@inlinable @inline(__always) public func cos<S: DiffEqScalar>(_ x: S) -> S { S.cos(x) }
@inlinable @inline(__always) public func tan<S: DiffEqScalar>(_ x: S) -> S { S.tan(x) }
@inlinable @inline(__always) public func asin<S: DiffEqScalar>(_ x: S) -> S { S.asin(x) }
@inlinable @inline(__always) public func acos<S: DiffEqScalar>(_ x: S) -> S { S.acos(x) }
@inlinable @inline(__always) public func atan<S: DiffEqScalar>(_ x: S) -> S { S.atan(x) }
@inlinable @inline(__always) public func sinh<S: DiffEqScalar>(_ x: S) -> S { S.sinh(x) }
@inlinable @inline(__always) public func cosh<S: DiffEqScalar>(_ x: S) -> S { S.cosh(x) }
@inlinable @inline(__always) public func tanh<S: DiffEqScalar>(_ x: S) -> S { S.tanh(x) }
@inlinable @inline(__always) public func sqrt<S: DiffEqScalar>(_ x: S) -> S { S.sqrt(x) }
@inlinable @inline(__always) public func pow<S: DiffEqScalar>(_ x: S, _ y: S) -> S { S.pow(x, y) }
@inlinable @inline(__always) public func pow<S: DiffEqScalar>(_ x: S, _ n: Int) -> S { S.pow(x, n) }
@inlinable @inline(__always) public func abs<S: DiffEqScalar>(_ x: S) -> S { S.abs(x) }

extension DiffEqScalar {
    /// Not a dual number over `Double`: see ``DiffEqScalar/firstOrderPartialCount``.
    @inlinable @inline(__always) public static var firstOrderPartialCount: Int? { nil }
}
