import AutoDiff
import DenseLinearAlgebra
import DiffEqCore

/// `∂f/∂u` and `∂f/∂p` of a model's right-hand side at `(u, p, t)` by forward-mode AD: one dual
/// evaluation per chunk of 8 inputs, exact to rounding.
@inlinable
public func rhsJacobians<M: ODEModel>(_ model: M, u: [Double], p: [Double], t: Double)
    -> (du: Matrix<Double>, dp: Matrix<Double>)
{
    let n = u.count, np = p.count
    typealias D = Dual<8, Double>
    var out = [D](repeating: .zero, count: n)
    var ju = [Double](repeating: 0, count: n * n)
    var jp = [Double](repeating: 0, count: n * np)
    // Columns 0..<n are the states, n..<n+np the parameters.
    var offset = 0
    while offset < n + np {
        let width = Swift.min(8, n + np - offset)
        var ud = u.map { D(constant: $0) }
        var pd = p.map { D(constant: $0) }
        for j in 0..<width {
            let column = offset + j
            if column < n { ud[column].partials[j] = 1 } else { pd[column - n].partials[j] = 1 }
        }
        model.lengthCheckedRHS(&out, ud, pd, D(constant: t))
        for j in 0..<width {
            let column = offset + j
            for i in 0..<n {
                if column < n { ju[i + column * n] = out[i].partials[j] } else { jp[i + (column - n) * n] = out[i].partials[j] }
            }
        }
        offset += width
    }
    return (try! Matrix(rows: n, columns: n, columnMajor: ju), try! Matrix(rows: n, columns: np, columnMajor: jp))
}

/// `∂f/∂u` and `∂f/∂p` of a problem's right-hand side by forward-mode AD. A closure-form
/// right-hand side (``ClosureRHS``) cannot run on dual numbers: it throws
/// ``ReverseModeError/closureRightHandSide(type:)`` with a message saying how to write the model.
public func rhsJacobians<F: ODEFunction>(_ f: F, u: [Double], p: [Double], t: Double) throws(ReverseModeError)
    -> (du: Matrix<Double>, dp: Matrix<Double>)
{
    guard let backed = f as? any ModelBackedRHS else { throw .closureRightHandSide(type: "\(F.self)") }
    return rhsJacobians(backed.model, u: u, p: p, t: t)
}
