import DiffEqCore
import Glibc

/// A real number that is neither `Double` nor `Float`, standing in for the AD scalars that
/// CVODE cannot carry.
struct WrappedReal: DiffEqScalar {
    var value: Double

    init(_ value: Double) { self.value = value }
    init(floatLiteral value: Double) { self.value = value }
    init(integerLiteral value: Int) { self.value = Double(value) }

    static var zero: WrappedReal { WrappedReal(0) }
    static var componentCount: Int { 1 }
    var primal: Double { value }
    var sumOfSquaredComponents: Double { value * value }
    var isFiniteScalar: Bool { value.isFinite }
    var description: String { value.description }
    func scaled(by factor: Double) -> WrappedReal { WrappedReal(value * factor) }

    static func < (a: WrappedReal, b: WrappedReal) -> Bool { a.value < b.value }
    static func + (a: WrappedReal, b: WrappedReal) -> WrappedReal { WrappedReal(a.value + b.value) }
    static func - (a: WrappedReal, b: WrappedReal) -> WrappedReal { WrappedReal(a.value - b.value) }
    static func * (a: WrappedReal, b: WrappedReal) -> WrappedReal { WrappedReal(a.value * b.value) }
    static func / (a: WrappedReal, b: WrappedReal) -> WrappedReal { WrappedReal(a.value / b.value) }
    static func *= (a: inout WrappedReal, b: WrappedReal) { a.value *= b.value }
    static func /= (a: inout WrappedReal, b: WrappedReal) { a.value /= b.value }
    static prefix func - (a: WrappedReal) -> WrappedReal { WrappedReal(-a.value) }

    static func exp(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.exp(x.value)) }
    static func expm1(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.expm1(x.value)) }
    static func log(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.log(x.value)) }
    static func log1p(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.log1p(x.value)) }
    static func sin(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.sin(x.value)) }
    static func cos(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.cos(x.value)) }
    static func tan(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.tan(x.value)) }
    static func asin(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.asin(x.value)) }
    static func acos(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.acos(x.value)) }
    static func atan(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.atan(x.value)) }
    static func sinh(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.sinh(x.value)) }
    static func cosh(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.cosh(x.value)) }
    static func tanh(_ x: WrappedReal) -> WrappedReal { WrappedReal(Glibc.tanh(x.value)) }
    static func sqrt(_ x: WrappedReal) -> WrappedReal { WrappedReal(x.value.squareRoot()) }
    static func pow(_ x: WrappedReal, _ y: WrappedReal) -> WrappedReal { WrappedReal(Glibc.pow(x.value, y.value)) }
    static func pow(_ x: WrappedReal, _ n: Int) -> WrappedReal { WrappedReal(Glibc.pow(x.value, Double(n))) }
    static func abs(_ x: WrappedReal) -> WrappedReal { WrappedReal(Swift.abs(x.value)) }
}
