// Pointwise activation functions with their derivatives, in forms that stay finite for every
// finite input (no exp of a large positive argument).

/// A pointwise activation function, used by ``Dense`` layers and by elementwise layers.
///
/// Each case has a closed-form derivative that the pullbacks use; `relu`'s derivative at 0 is
/// taken as 0 (the convention of JAX and PyTorch).
public enum Activation: Sendable, Hashable, Codable {
    /// `x`.
    case identity
    /// `tanh(x)`.
    case tanh
    /// `max(0, x)`.
    case relu
    /// The logistic function `1 / (1 + e^-x)`.
    case sigmoid
    /// `log(1 + e^x)`, evaluated as `max(x, 0) + log1p(e^-|x|)`.
    case softplus
    /// `x` for `x > 0`, `alpha (e^x - 1)` otherwise (Clevert, Unterthiner & Hochreiter, "Fast and
    /// accurate deep network learning by exponential linear units", ICLR 2016).
    case elu(alpha: Double)
    /// `x σ(x)`, also called SiLU (Ramachandran, Zoph & Le, "Searching for activation functions",
    /// 2017, with β = 1; Elfwing, Uchibe & Doya 2018).
    case swish
    /// The exact GELU, `x Φ(x) = x (1 + erf(x / √2)) / 2` (Hendrycks & Gimpel, "Gaussian error
    /// linear units (GELUs)", arXiv:1606.08415, 2016, eq. for GELU(x)). PyTorch's default form.
    case gelu
    /// The tanh approximation of GELU from the same paper,
    /// `x (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2` (JAX's `approximate=True` default).
    case geluTanh

    /// ELU with `alpha = 1`.
    public static var elu: Activation { .elu(alpha: 1) }
}

extension Activation {
    /// The activation at `x`.
    @inlinable
    public func value<T: NetworkScalar>(_ x: T) -> T {
        switch self {
        case .identity: return x
        case .tanh: return T._tanh(x)
        case .relu: return x > 0 ? x : 0
        case .sigmoid: return _sigmoid(x)
        case .softplus: return max(x, 0) + T._log1p(T._exp(-abs(x)))
        case .elu(let alpha): return x > 0 ? x : T(alpha) * T._expm1(x)
        case .swish: return x * _sigmoid(x)
        case .gelu: return x * _normalCDF(x)
        case .geluTanh:
            let inner = T(_geluTanhScale) * (x + T(0.044715) * x * x * x)
            return x * (1 + T._tanh(inner)) / 2
        }
    }

    /// The derivative of the activation at `x`.
    @inlinable
    public func derivative<T: NetworkScalar>(_ x: T) -> T {
        switch self {
        case .identity: return 1
        case .tanh:
            let t = T._tanh(x)
            return 1 - t * t
        case .relu: return x > 0 ? 1 : 0
        case .sigmoid:
            let s: T = _sigmoid(x)
            return s * (1 - s)
        case .softplus: return _sigmoid(x)
        case .elu(let alpha): return x > 0 ? 1 : T(alpha) * T._exp(x)
        case .swish:
            let s: T = _sigmoid(x)
            return s + x * s * (1 - s)
        case .gelu:
            // d/dx x Φ(x) = Φ(x) + x φ(x).
            return _normalCDF(x) + x * _normalDensity(x)
        case .geluTanh:
            let x2 = x * x
            let inner = T(_geluTanhScale) * (x + T(0.044715) * x2 * x)
            let t = T._tanh(inner)
            let dInner = T(_geluTanhScale) * (1 + 3 * T(0.044715) * x2)
            return (1 + t) / 2 + x * (1 - t * t) * dInner / 2
        }
    }

    /// The derivative at `x` given the value `y` there: tanh and the sigmoid reuse `y`
    /// (1 - y², y(1 - y)) instead of evaluating the function again in the pullback.
    @inlinable
    internal func derivative<T: NetworkScalar>(_ x: T, output y: T) -> T {
        switch self {
        case .tanh: return 1 - y * y
        case .sigmoid: return y * (1 - y)
        default: return derivative(x)
        }
    }
}

extension Activation {
    /// The activation of `count` values from `x` into `y` (`y` may be `x`), with one dispatch on
    /// the case per vector rather than per element: a switch inside the element loop, which the
    /// compiler did not hoist, cost about as much as the arithmetic of a 50-wide layer.
    @inlinable
    public func _apply<T: NetworkScalar>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, count: Int) {
        switch self {
        case .identity:
            if UnsafePointer(y) != x { y.update(from: x, count: count) }
        case .tanh:
            T._tanh(x, into: y, count: count)
        case .relu:
            for k in 0..<count { y[k] = x[k] > 0 ? x[k] : 0 }
        default:
            for k in 0..<count { y[k] = value(x[k]) }
        }
    }

    /// `dz[k] = dy[k] σ'(z[k])` given the outputs `y = σ(z)`, dispatched once per vector like
    /// ``_apply(_:into:count:)``.
    @inlinable
    public func _scaleByDerivative<T: NetworkScalar>(
        _ dy: UnsafePointer<T>, at z: UnsafePointer<T>, output y: UnsafePointer<T>, into dz: UnsafeMutablePointer<T>,
        count: Int
    ) {
        switch self {
        case .identity:
            if UnsafePointer(dz) != dy { dz.update(from: dy, count: count) }
        case .tanh:
            for k in 0..<count { dz[k] = dy[k] * (1 - y[k] * y[k]) }
        default:
            for k in 0..<count { dz[k] = dy[k] * derivative(z[k], output: y[k]) }
        }
    }
}

/// √(2/π), the constant of the tanh form of GELU.
@usableFromInline
internal let _geluTanhScale: Double = 0.797_884_560_802_865_4

/// The logistic function, from whichever of `e^x`, `e^-x` cannot overflow.
@inlinable
internal func _sigmoid<T: NetworkScalar>(_ x: T) -> T {
    if x >= 0 {
        return 1 / (1 + T._exp(-x))
    }
    let e = T._exp(x)
    return e / (1 + e)
}

/// Φ(x), the standard normal distribution function.
@inlinable
internal func _normalCDF<T: NetworkScalar>(_ x: T) -> T {
    (1 + T._erf(x * T(0.707_106_781_186_547_524_4))) / 2
}

/// φ(x) = e^(-x²/2) / √(2π), the standard normal density.
@inlinable
internal func _normalDensity<T: NetworkScalar>(_ x: T) -> T {
    T(0.398_942_280_401_432_677_9) * T._exp(-x * x / 2)
}
