import DiffEqCore

/// How a stiff method obtains `J = ∂f/∂u`.
public enum JacobianSource: Sendable, Equatable {
    /// The right-hand side's analytic Jacobian if it has one, else forward-mode AD if it is in
    /// generic form, else finite differences (DifferentialEquations.jl's default behaviour).
    case automatic
    /// Forward differences, even when AD or an analytic Jacobian is available.
    case finiteDifferences
}

/// Evaluates `J = ∂f/∂u` at `(t, u)` into a column-major buffer by the best means available,
/// counting each kind in the solver statistics. Buffers are allocated once; an evaluation by
/// analytic Jacobian or finite differences allocates nothing (forward-mode AD allocates its
/// dual arrays once per evaluation).
public struct JacobianEvaluator<F: ODEFunction> {
    public typealias Scalar = F.Scalar
    public enum Kind: Sendable { case analytic, forwardAD, finiteDifference }

    public let kind: Kind
    @usableFromInline let n: Int
    @usableFromInline var perturbed: [Scalar]
    @usableFromInline var fPerturbed: [Scalar]

    public init(_ f: F, count n: Int, source: JacobianSource = .automatic) {
        self.n = n
        if source == .finiteDifferences {
            kind = .finiteDifference
        } else if f.hasAnalyticJacobian {
            kind = .analytic
        } else if f.supportsForwardModeAD {
            kind = .forwardAD
        } else {
            kind = .finiteDifference
        }
        perturbed = [Scalar](repeating: .zero, count: n)
        fPerturbed = [Scalar](repeating: .zero, count: n)
    }

    /// Writes `J` at `(t, u)`. `fu` must hold `f(t, u)` (it is reused by finite differences).
    @inlinable
    public mutating func evaluate(
        _ f: F, _ p: [Scalar], t: Double, u: [Scalar], fu: [Scalar], into J: inout [Scalar], stats: inout SolverStats
    ) {
        stats.njacs += 1
        switch kind {
        case .analytic:
            f.jacobian(&J, u, p, Scalar(t))
        case .forwardAD:
            stats.njacsAD += 1
            f.forwardModeJacobian(&J, u, p, Scalar(t))
        case .finiteDifference:
            stats.njacsFiniteDifference += 1
            // Forward differences with the step sqrt(ε)·max(|u_j|, 1) (Dennis & Schnabel,
            // Numerical Methods for Unconstrained Optimization, §5.4): error O(sqrt(ε)).
            let rootEps = Double.ulpOfOne.squareRoot()
            for m in 0..<n { perturbed[m] = u[m] }
            for j in 0..<n {
                let uj = u[j]
                var h = rootEps * Swift.max(Swift.abs(uj.primal), 1)
                // Make the step exactly representable so that (u + h) - u == h.
                h = (uj.primal + h) - uj.primal
                perturbed[j] = uj + Scalar(h)
                f(&fPerturbed, perturbed, p, Scalar(t))
                let inv = 1 / h
                for i in 0..<n { J[i + j * n] = (fPerturbed[i] - fu[i]).scaled(by: inv) }
                perturbed[j] = uj
            }
            stats.nf += n
        }
    }
}
