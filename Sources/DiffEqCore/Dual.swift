/// A forward-mode dual number `value + Σ partials[i] ε_i` with `N` partials held inline (no heap
/// allocation): the scalar that carries derivatives through the native solvers.
///
/// `V` is the value type; `Dual<N, Dual<M, Double>>` nests for second derivatives (as
/// ForwardDiff.jl's `Dual{T,V,N}`). Comparisons and equality look at the value only, so that
/// branches in user code take the same path as for plain reals.
///
/// Conventions where the derivative does not exist (documented choices, matching the one-sided
/// limits ForwardDiff.jl uses):
/// - `abs(x)` at `x = 0` has derivative `+1` (the right derivative);
/// - `sqrt(x)` at `x = 0` has derivative `+∞`; a partial that is exactly zero stays zero (a
///   direction that does not move `x` carries no derivative), so an unperturbed zero state does
///   not poison a solve with NaN;
/// - `pow(x, y)` at `x = 0`: the derivative with respect to `y` is taken as 0 (its limit for
///   `y > 0`; for `y ≤ 0` the value itself is infinite or 1); with respect to `x` it is
///   `y · 0^(y-1)` as usual.
@frozen
public struct Dual<let N: Int, V: DiffEqScalar>: DiffEqScalar {
    public var value: V
    public var partials: InlineArray<N, V>

    @inlinable @inline(__always)
    public init(value: V, partials: InlineArray<N, V>) {
        self.value = value
        self.partials = partials
    }

    /// A constant: every partial zero.
    @inlinable @inline(__always)
    public init(constant: V) {
        value = constant
        partials = InlineArray(repeating: V.zero)
    }

    /// The `i`-th input variable: partial `i` is one, the others zero.
    @inlinable
    public init(_ value: V, seed i: Int) {
        self.init(constant: value)
        partials[i] = V(1.0)
    }

    @inlinable @inline(__always) public init(_ value: Double) { self.init(constant: V(value)) }
    @inlinable @inline(__always) public init(floatLiteral value: Double) { self.init(constant: V(value)) }
    @inlinable @inline(__always) public init(integerLiteral value: Int) { self.init(constant: V(Double(value))) }

    @inlinable public static var zero: Dual { Dual(constant: .zero) }

    @inlinable public var primal: Double { value.primal }

    @inlinable public var sumOfSquaredComponents: Double {
        var s = value.sumOfSquaredComponents
        for i in 0..<N { s += partials[i].sumOfSquaredComponents }
        return s
    }

    @inlinable public static var componentCount: Int { (N + 1) * V.componentCount }

    /// `N` over `Double`: `@frozen`, the value first and the partials inline (`InlineArray`
    /// stores its elements contiguously), so the `1 + N` doubles are adjacent; the size test
    /// folds away and guards that layout. A nested dual (second derivatives) is not first-order,
    /// and one over `Float` would be solved in `Double` by the primal-only linear algebra: both
    /// answer `nil`.
    @inlinable @inline(__always) public static var firstOrderPartialCount: Int? {
        V.self == Double.self && MemoryLayout<Dual>.size == (N + 1) * MemoryLayout<Double>.size ? N : nil
    }

    @inlinable public var isFiniteScalar: Bool {
        guard value.isFiniteScalar else { return false }
        for i in 0..<N where !partials[i].isFiniteScalar { return false }
        return true
    }

    public var description: String {
        var s = "Dual(\(value)"
        for i in 0..<N { s += ", \(partials[i])" }
        return s + ")"
    }

    /// `value` with partials `partials * d` (the chain rule for a unary function with derivative
    /// `d`); a zero partial stays zero even when `d` is infinite.
    @inlinable @inline(__always)
    func chain(_ newValue: V, _ d: V) -> Dual {
        var r = Dual(constant: newValue)
        for i in 0..<N where partials[i] != .zero { r.partials[i] = partials[i] * d }
        return r
    }

    @inlinable @inline(__always)
    public func scaled(by factor: Double) -> Dual {
        var r = Dual(constant: value.scaled(by: factor))
        for i in 0..<N { r.partials[i] = partials[i].scaled(by: factor) }
        return r
    }

    // MARK: Equality and order: by value only.

    @inlinable public static func == (a: Dual, b: Dual) -> Bool { a.value == b.value }
    @inlinable public static func < (a: Dual, b: Dual) -> Bool { a.value < b.value }

    // MARK: Arithmetic

    @inlinable @inline(__always)
    public static func + (a: Dual, b: Dual) -> Dual {
        var r = Dual(constant: a.value + b.value)
        for i in 0..<N { r.partials[i] = a.partials[i] + b.partials[i] }
        return r
    }

    @inlinable @inline(__always)
    public static func - (a: Dual, b: Dual) -> Dual {
        var r = Dual(constant: a.value - b.value)
        for i in 0..<N { r.partials[i] = a.partials[i] - b.partials[i] }
        return r
    }

    @inlinable @inline(__always)
    public static prefix func - (a: Dual) -> Dual {
        var r = Dual(constant: -a.value)
        for i in 0..<N { r.partials[i] = -a.partials[i] }
        return r
    }

    @inlinable @inline(__always)
    public static func * (a: Dual, b: Dual) -> Dual {
        var r = Dual(constant: a.value * b.value)
        for i in 0..<N { r.partials[i] = a.value * b.partials[i] + a.partials[i] * b.value }
        return r
    }

    @inlinable @inline(__always)
    public static func / (a: Dual, b: Dual) -> Dual {
        let q = a.value / b.value
        var r = Dual(constant: q)
        for i in 0..<N { r.partials[i] = (a.partials[i] - q * b.partials[i]) / b.value }
        return r
    }

    @inlinable @inline(__always) public static func += (a: inout Dual, b: Dual) { a = a + b }
    @inlinable @inline(__always) public static func -= (a: inout Dual, b: Dual) { a = a - b }
    @inlinable @inline(__always) public static func *= (a: inout Dual, b: Dual) { a = a * b }
    @inlinable @inline(__always) public static func /= (a: inout Dual, b: Dual) { a = a / b }

    // MARK: Elementary functions (derivatives: Abramowitz & Stegun, ch. 4)

    @inlinable public static func exp(_ x: Dual) -> Dual { let e = V.exp(x.value); return x.chain(e, e) }
    @inlinable public static func expm1(_ x: Dual) -> Dual { x.chain(V.expm1(x.value), V.exp(x.value)) }
    @inlinable public static func log(_ x: Dual) -> Dual { x.chain(V.log(x.value), V(1.0) / x.value) }
    @inlinable public static func log1p(_ x: Dual) -> Dual { x.chain(V.log1p(x.value), V(1.0) / (V(1.0) + x.value)) }
    @inlinable public static func sin(_ x: Dual) -> Dual { x.chain(V.sin(x.value), V.cos(x.value)) }
    @inlinable public static func cos(_ x: Dual) -> Dual { x.chain(V.cos(x.value), -V.sin(x.value)) }
    @inlinable public static func tan(_ x: Dual) -> Dual {
        let t = V.tan(x.value)
        return x.chain(t, V(1.0) + t * t)
    }
    @inlinable public static func asin(_ x: Dual) -> Dual {
        x.chain(V.asin(x.value), V(1.0) / V.sqrt(V(1.0) - x.value * x.value))
    }
    @inlinable public static func acos(_ x: Dual) -> Dual {
        x.chain(V.acos(x.value), -V(1.0) / V.sqrt(V(1.0) - x.value * x.value))
    }
    @inlinable public static func atan(_ x: Dual) -> Dual {
        x.chain(V.atan(x.value), V(1.0) / (V(1.0) + x.value * x.value))
    }
    @inlinable public static func sinh(_ x: Dual) -> Dual { x.chain(V.sinh(x.value), V.cosh(x.value)) }
    @inlinable public static func cosh(_ x: Dual) -> Dual { x.chain(V.cosh(x.value), V.sinh(x.value)) }
    @inlinable public static func tanh(_ x: Dual) -> Dual {
        let t = V.tanh(x.value)
        return x.chain(t, V(1.0) - t * t)
    }
    @inlinable public static func sqrt(_ x: Dual) -> Dual {
        let s = V.sqrt(x.value)
        return x.chain(s, V(0.5) / s)
    }
    @inlinable public static func abs(_ x: Dual) -> Dual { x.value < .zero ? -x : x }

    @inlinable public static func pow(_ x: Dual, _ n: Int) -> Dual {
        if n == 0 { return Dual(constant: V(1.0)) }
        let d = V(Double(n)) * V.pow(x.value, n - 1)
        return x.chain(V.pow(x.value, n), d)
    }

    @inlinable public static func pow(_ x: Dual, _ y: Dual) -> Dual {
        let v = V.pow(x.value, y.value)
        // d/dx x^y = y x^(y-1);  d/dy x^y = x^y log x (taken as 0 at x = 0, its limit for y > 0).
        let dx = y.value * V.pow(x.value, y.value - V(1.0))
        let dy = x.value == .zero ? V.zero : v * V.log(x.value)
        var r = Dual(constant: v)
        for i in 0..<N {
            var p = V.zero
            if x.partials[i] != .zero { p += dx * x.partials[i] }
            if y.partials[i] != .zero { p += dy * y.partials[i] }
            r.partials[i] = p
        }
        return r
    }
}
