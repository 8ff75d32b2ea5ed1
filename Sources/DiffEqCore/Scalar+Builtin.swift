import Glibc

// Double and Float conform by forwarding to the C math library, which Swift imports with
// overloads for both types. `pow(x, n)` with an integer exponent uses repeated squaring so that
// `pow(u, 2)` costs a multiply and is exact for negative bases.

@usableFromInline
@inline(__always)
func integerPower<S: DiffEqScalar>(_ x: S, _ n: Int) -> S {
    var base = n < 0 ? S(1.0) / x : x
    var e = n.magnitude
    var result = S(1.0)
    while e > 0 {
        if e & 1 == 1 { result *= base }
        base *= base
        e >>= 1
    }
    return result
}

extension Double: DiffEqScalar {
    @inlinable public var primal: Double { self }
    @inlinable public var sumOfSquaredComponents: Double { self * self }
    @inlinable public static var componentCount: Int { 1 }
    @inlinable public var isFiniteScalar: Bool { isFinite }
    @inlinable public func scaled(by factor: Double) -> Double { self * factor }
    @inlinable public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable public static func expm1(_ x: Double) -> Double { Glibc.expm1(x) }
    @inlinable public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { Glibc.log1p(x) }
    @inlinable public static func sin(_ x: Double) -> Double { Glibc.sin(x) }
    @inlinable public static func cos(_ x: Double) -> Double { Glibc.cos(x) }
    @inlinable public static func tan(_ x: Double) -> Double { Glibc.tan(x) }
    @inlinable public static func asin(_ x: Double) -> Double { Glibc.asin(x) }
    @inlinable public static func acos(_ x: Double) -> Double { Glibc.acos(x) }
    @inlinable public static func atan(_ x: Double) -> Double { Glibc.atan(x) }
    @inlinable public static func sinh(_ x: Double) -> Double { Glibc.sinh(x) }
    @inlinable public static func cosh(_ x: Double) -> Double { Glibc.cosh(x) }
    @inlinable public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
    @inlinable public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
    @inlinable public static func pow(_ x: Double, _ n: Int) -> Double { integerPower(x, n) }
    @inlinable public static func abs(_ x: Double) -> Double { Swift.abs(x) }
}

extension Float: DiffEqScalar {
    @inlinable public var primal: Double { Double(self) }
    @inlinable public var sumOfSquaredComponents: Double { Double(self) * Double(self) }
    @inlinable public static var componentCount: Int { 1 }
    @inlinable public var isFiniteScalar: Bool { isFinite }
    @inlinable public func scaled(by factor: Double) -> Float { self * Float(factor) }
    @inlinable public static func exp(_ x: Float) -> Float { Glibc.expf(x) }
    @inlinable public static func expm1(_ x: Float) -> Float { Glibc.expm1f(x) }
    @inlinable public static func log(_ x: Float) -> Float { Glibc.logf(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { Glibc.log1pf(x) }
    @inlinable public static func sin(_ x: Float) -> Float { Glibc.sinf(x) }
    @inlinable public static func cos(_ x: Float) -> Float { Glibc.cosf(x) }
    @inlinable public static func tan(_ x: Float) -> Float { Glibc.tanf(x) }
    @inlinable public static func asin(_ x: Float) -> Float { Glibc.asinf(x) }
    @inlinable public static func acos(_ x: Float) -> Float { Glibc.acosf(x) }
    @inlinable public static func atan(_ x: Float) -> Float { Glibc.atanf(x) }
    @inlinable public static func sinh(_ x: Float) -> Float { Glibc.sinhf(x) }
    @inlinable public static func cosh(_ x: Float) -> Float { Glibc.coshf(x) }
    @inlinable public static func tanh(_ x: Float) -> Float { Glibc.tanhf(x) }
    @inlinable public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { Glibc.powf(x, y) }
    @inlinable public static func pow(_ x: Float, _ n: Int) -> Float { integerPower(x, n) }
    @inlinable public static func abs(_ x: Float) -> Float { Swift.abs(x) }
}
