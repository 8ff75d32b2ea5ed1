import DenseLinearAlgebra
import DiffEqCore

/// A map `ℝⁿ → ℝᵐ` written once over the scalar protocol, so that it can be evaluated with dual
/// numbers (forward mode) as well as plain reals.
public protocol VectorFunction {
    func callAsFunction<S: DiffEqScalar>(_ x: [S]) -> [S]
}

/// A map `ℝⁿ → ℝ` written once over the scalar protocol.
public protocol ScalarFunction {
    func callAsFunction<S: DiffEqScalar>(_ x: [S]) -> S
}

/// `f(x + ε v)`: the directional derivative of a vector function along `v` (one dual pass).
@inlinable
public func jvp<F: VectorFunction>(of f: F, at x: [Double], direction v: [Double]) throws(ReverseModeError)
    -> (value: [Double], jvp: [Double])
{
    guard x.count == v.count else { throw .dimensionMismatch(what: "jvp direction", expected: x.count, got: v.count) }
    var xd = [Dual<1, Double>](repeating: .zero, count: x.count)
    for i in x.indices { xd[i] = Dual(value: x[i], partials: [v[i]]) }
    let y = f(xd)
    return (y.map(\.value), y.map { $0.partials[0] })
}

/// `d f / d x` of a scalar function of one variable.
@inlinable
public func derivative(of f: (Dual<1, Double>) -> Dual<1, Double>, at x: Double) -> Double {
    f(Dual(x, seed: 0)).partials[0]
}

/// The gradient of `f` at `x`, in chunks of `C` directions per evaluation (ForwardDiff.jl's
/// chunk mode): `ceil(n / C)` evaluations of `f` with `Dual<C, Double>` arguments.
@inlinable
public func gradient<let C: Int>(
    of f: ([Dual<C, Double>]) -> Dual<C, Double>, at x: [Double]
) -> [Double] {
    // With no partials per chunk (`Dual<0, Double>`) the loop below never advanced: a hang.
    precondition(C > 0 || x.isEmpty, "gradient: the chunk size (the dual's partial count) must be positive, got \(C)")
    let n = x.count
    var g = [Double](repeating: 0, count: n)
    var xd = x.map { Dual<C, Double>(constant: $0) }
    var offset = 0
    while offset < n {
        let width = Swift.min(C, n - offset)
        for j in 0..<width { xd[offset + j].partials[j] = 1 }
        let y = f(xd)
        for j in 0..<width {
            g[offset + j] = y.partials[j]
            xd[offset + j].partials[j] = 0
        }
        offset += width
    }
    return g
}

/// The Jacobian of `f` at `x` (`m x n`, column-major), in chunks of `C` columns per evaluation.
@inlinable
public func jacobian<let C: Int>(
    of f: ([Dual<C, Double>]) -> [Dual<C, Double>], at x: [Double]
) -> Matrix<Double> {
    // As in `gradient`: a zero chunk size never advanced (a hang).
    precondition(C > 0 || x.isEmpty, "jacobian: the chunk size (the dual's partial count) must be positive, got \(C)")
    let n = x.count
    var xd = x.map { Dual<C, Double>(constant: $0) }
    var columns: [Double] = []
    var m = 0
    var offset = 0
    while offset < n {
        let width = Swift.min(C, n - offset)
        for j in 0..<width { xd[offset + j].partials[j] = 1 }
        let y = f(xd)
        if offset == 0 {
            m = y.count
            columns = [Double](repeating: 0, count: m * n)
        }
        // An f whose output length changed between chunks trapped below with a bare "index out
        // of range" (or, longer, silently dropped rows).
        precondition(y.count == m, "jacobian: f returned \(y.count) values, \(m) in its first evaluation")
        for j in 0..<width {
            for i in 0..<m { columns[i + (offset + j) * m] = y[i].partials[j] }
            xd[offset + j].partials[j] = 0
        }
        offset += width
    }
    // The shape is consistent by construction (m rows of n columns), so this cannot throw.
    return try! Matrix(rows: m, columns: n, columnMajor: columns)
}

/// Gradient of a generic scalar function, with a chunk size of `min(n, 8)` chosen at run time.
@inlinable
public func gradient<F: ScalarFunction>(of f: F, at x: [Double]) -> [Double] {
    switch x.count {
    case 0: return []
    case 1: return gradient(of: { (y: [Dual<1, Double>]) in f(y) }, at: x)
    case 2: return gradient(of: { (y: [Dual<2, Double>]) in f(y) }, at: x)
    case 3: return gradient(of: { (y: [Dual<3, Double>]) in f(y) }, at: x)
    case 4: return gradient(of: { (y: [Dual<4, Double>]) in f(y) }, at: x)
    default: return gradient(of: { (y: [Dual<8, Double>]) in f(y) }, at: x)
    }
}

/// Jacobian of a generic vector function, with a chunk size of `min(n, 8)` chosen at run time.
@inlinable
public func jacobian<F: VectorFunction>(of f: F, at x: [Double]) -> Matrix<Double> {
    switch x.count {
    case 1: return jacobian(of: { (y: [Dual<1, Double>]) in f(y) }, at: x)
    case 2: return jacobian(of: { (y: [Dual<2, Double>]) in f(y) }, at: x)
    case 3: return jacobian(of: { (y: [Dual<3, Double>]) in f(y) }, at: x)
    case 4: return jacobian(of: { (y: [Dual<4, Double>]) in f(y) }, at: x)
    default: return jacobian(of: { (y: [Dual<8, Double>]) in f(y) }, at: x)
    }
}

/// The Hessian of a generic scalar function by forward-over-forward (dual of dual) mode:
/// `n` evaluations with `Dual<1, Dual<8 or n, Double>>`-style nesting, one column per pass.
@inlinable
public func hessian<F: ScalarFunction>(of f: F, at x: [Double]) -> Matrix<Double> {
    let n = x.count
    var h = [Double](repeating: 0, count: n * n)
    // Outer dual: direction e_j; inner: gradient via chunked forward mode.
    for j in 0..<n {
        let column = gradient(
            of: { (y: [Dual<4, Double>]) -> Dual<4, Double> in
                var z = [Dual<1, Dual<4, Double>>](repeating: .zero, count: n)
                for i in 0..<n {
                    z[i] = Dual(value: y[i], partials: [Dual<4, Double>(constant: i == j ? 1 : 0)])
                }
                return f(z).partials[0]
            }, at: x)
        for i in 0..<n { h[i + j * n] = column[i] }
    }
    return try! Matrix(rows: n, columns: n, columnMajor: h)
}
