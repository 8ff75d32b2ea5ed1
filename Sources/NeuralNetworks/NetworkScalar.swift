// The scalar types a network computes in, and the elementary functions its activations need.
//
// `LAPACKScalar` (DenseLinearAlgebra) already ties `Double` and `Float` to their BLAS kernels; this
// protocol adds the handful of libm functions the activations use, so the generic layer code
// reaches `exp`/`expf` directly after specialization, with no witness-table dispatch.

public import DenseLinearAlgebra

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real type a network computes in: `Double` or `Float`.
///
/// The underscored requirements are the C library's elementary functions for the type; the layer
/// code calls them, users need not. Do not conform other types.
public protocol NetworkScalar: LAPACKScalar, Codable {
    static func _exp(_ x: Self) -> Self
    static func _expm1(_ x: Self) -> Self
    static func _log1p(_ x: Self) -> Self
    static func _log(_ x: Self) -> Self
    static func _tanh(_ x: Self) -> Self
    /// `_tanh` of `count` values from `x` into `y` (`y` may be `x`).
    static func _tanh(_ x: UnsafePointer<Self>, into y: UnsafeMutablePointer<Self>, count: Int)
    static func _erf(_ x: Self) -> Self
    static func _cos(_ x: Self) -> Self
}

extension Double: NetworkScalar {
    @inlinable public static func _exp(_ x: Double) -> Double { exp(x) }
    @inlinable public static func _expm1(_ x: Double) -> Double { expm1(x) }
    @inlinable public static func _log1p(_ x: Double) -> Double { log1p(x) }
    @inlinable public static func _log(_ x: Double) -> Double { log(x) }
    /// ``_networkTanh(_:)``, not glibc's `tanh` (see there).
    @inlinable public static func _tanh(_ x: Double) -> Double { _networkTanh(x) }
    /// The vectorised loop of ``_networkTanh(_:into:count:)``, the same values.
    @inlinable public static func _tanh(_ x: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, count: Int) {
        _networkTanh(x, into: y, count: count)
    }
    @inlinable public static func _erf(_ x: Double) -> Double { erf(x) }
    @inlinable public static func _cos(_ x: Double) -> Double { cos(x) }
}

extension Float: NetworkScalar {
    @inlinable public static func _exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func _expm1(_ x: Float) -> Float { expm1f(x) }
    @inlinable public static func _log1p(_ x: Float) -> Float { log1pf(x) }
    @inlinable public static func _log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func _tanh(_ x: Float) -> Float { tanhf(x) }
    @inlinable public static func _tanh(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        for k in 0..<count { y[k] = tanhf(x[k]) }
    }
    @inlinable public static func _erf(_ x: Float) -> Float { erff(x) }
    @inlinable public static func _cos(_ x: Float) -> Float { cosf(x) }
}
