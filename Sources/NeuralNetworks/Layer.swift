// The description of a layer: what a user writes inside `Chain(...)`. It holds sizes and choices
// only; `Chain` validates the whole stack, lays out the flat parameter vector and compiles the
// layers into a fixed sequence of operations on workspace slots.

/// A pointwise function applied to every entry (the spiral model's `x -> x.^3`).
public enum ElementwiseFunction<Scalar: NetworkScalar>: Sendable {
    /// An ``Activation`` on its own.
    case activation(Activation)
    /// `x^n` for an integer `n >= 1`, derivative `n x^(n-1)`.
    case power(Int)
    /// A user function and its derivative (the pullback uses `derivative`; nothing checks that
    /// it is the derivative of `function`).
    case custom(name: String, function: @Sendable (Scalar) -> Scalar, derivative: @Sendable (Scalar) -> Scalar)

    @inlinable
    internal func value(_ x: Scalar) -> Scalar {
        switch self {
        case .activation(let activation): return activation.value(x)
        case .power(let n): return _power(x, n)
        case .custom(_, let f, _): return f(x)
        }
    }

    /// The derivative at `x` given the value `y` there (see `Activation.derivative(_:output:)`).
    @inlinable
    internal func derivative(_ x: Scalar, output y: Scalar) -> Scalar {
        switch self {
        case .activation(let activation): return activation.derivative(x, output: y)
        default: return derivative(x)
        }
    }

    @inlinable
    internal func derivative(_ x: Scalar) -> Scalar {
        switch self {
        case .activation(let activation): return activation.derivative(x)
        case .power(let n): return Scalar(n) * _power(x, n - 1)
        case .custom(_, _, let df): return df(x)
        }
    }
}

/// `x^n` by repeated multiplication (n is small; exact for n <= 2, within n-1 roundings above).
@inlinable
internal func _power<T: NetworkScalar>(_ x: T, _ n: Int) -> T {
    var result: T = 1
    var k = 0
    while k < n {
        result *= x
        k += 1
    }
    return result
}

/// How the outputs of a `Parallel` layer's branches are combined.
public enum Combination: Sendable, Hashable {
    /// Entrywise sum (all branches must give the same size).
    case add
    /// Stacked one below the other, first branch on top.
    case concatenate
}

/// One layer of a ``Chain``.
///
/// ```swift
/// let model = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
/// ```
public struct Layer<Scalar: NetworkScalar>: Sendable {
    @usableFromInline
    internal indirect enum Kind: Sendable {
        case dense(
            input: Int, output: Int, activation: Activation, bias: Bool, weight: Initializer,
            biasInitializer: Initializer)
        case elementwise(ElementwiseFunction<Scalar>)
        case skip([Layer])
        case parallel(Combination, [[Layer]])
    }

    @usableFromInline internal let kind: Kind

    @inlinable
    internal init(kind: Kind) { self.kind = kind }

    /// `activation(W x + b)` with `W` an `output x input` matrix (Flux's and Lux's `Dense`).
    /// Sizes are checked when the ``Chain`` is built.
    public static func dense(
        _ input: Int, _ output: Int, _ activation: Activation = .identity, bias: Bool = true,
        weightInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros
    ) -> Layer {
        Layer(
            kind: .dense(
                input: input, output: output, activation: activation, bias: bias,
                weight: weightInitializer, biasInitializer: biasInitializer))
    }

    /// An activation applied to every entry (no parameters).
    public static func elementwise(_ activation: Activation) -> Layer {
        Layer(kind: .elementwise(.activation(activation)))
    }

    /// `x.^n` entrywise (no parameters).
    public static func power(_ n: Int) -> Layer {
        Layer(kind: .elementwise(.power(n)))
    }

    /// A user function applied to every entry, with its derivative for the pullback.
    public static func function(
        _ name: String, _ function: @escaping @Sendable (Scalar) -> Scalar,
        derivative: @escaping @Sendable (Scalar) -> Scalar
    ) -> Layer {
        Layer(kind: .elementwise(.custom(name: name, function: function, derivative: derivative)))
    }

    /// `x + body(x)` (Lux's `SkipConnection(body, +)`); the body must keep the size.
    public static func skipConnection(_ body: Layer...) -> Layer {
        Layer(kind: .skip(body))
    }

    /// Every branch applied to the same input, outputs combined (Lux's `Parallel`).
    public static func parallel(_ combination: Combination, _ branches: [Layer]...) -> Layer {
        Layer(kind: .parallel(combination, branches))
    }
}
