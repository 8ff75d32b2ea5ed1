import DiffEqCore

/// The ``StiffLinearSystem`` of array states: `J` from ``JacobianEvaluator`` (analytic,
/// forward-mode AD, forward or central differences, colored for sparse structures) and `W` in
/// ``IterationMatrix`` (dense, banded, sparse, KLU or GMRES, by the function's
/// ``JacobianStructure`` and the algorithm's ``LinearSolver``), over any scalar.
public struct ArrayStiffLinearSystem<Function: ODEFunction>: StiffLinearSystem {
    public typealias Scalar = Function.Scalar

    @usableFromInline var jacobianEvaluator: JacobianEvaluator<Function>
    @usableFromInline var W: IterationMatrix<Scalar>
    @usableFromInline var J: [Scalar]
    /// Column-major `n × n`, `nil` for the identity.
    @usableFromInline let massMatrix: [Double]?
    @usableFromInline let n: Int
    /// `f`'s declared Jacobian structure (validated in ``validate()``).
    @usableFromInline let structure: JacobianStructure
    /// `max_ij |J_ij|` of the current `J` (`Double` states with the identity mass matrix only:
    /// the refinement rule's).
    @usableFromInline var jacobianMaxAbs = 0.0
    /// Whether the stepper may refine its stage solves (a Rosenbrock method; not an SDIRK
    /// method, whose Newton iteration corrects them): without, ``jacobianMaxAbs`` is not formed.
    @usableFromInline let refinesStages: Bool

    /// The system of `f` for states of `n` components; `massMatrix` column-major (`nil`: `I`);
    /// `refinesStages: false` for a stepper that never asks ``refinesSolves(gammaStep:)``.
    public init(
        function f: Function, count n: Int, massMatrix: [Double]?, jacobian source: JacobianSource,
        linearSolver: LinearSolver, refinesStages: Bool = true
    ) {
        self.n = n
        self.refinesStages = refinesStages
        self.massMatrix = massMatrix
        let structure = f.jacobianStructure.resolved(count: n, hasMass: massMatrix != nil, solver: linearSolver)
        jacobianEvaluator = JacobianEvaluator(f, count: n, source: source, structure: structure, solver: linearSolver)
        self.structure = f.jacobianStructure
        W = IterationMatrix(
            count: n, structure: structure, solver: linearSolver, hasMass: massMatrix != nil,
            linearization: jacobianEvaluator.linearization)
        J = [Scalar](repeating: .zero, count: jacobianEvaluator.storageCount)
    }

    public func validate() throws(DiffEqError) {
        try structure.validateForStiffMethods(count: n, hasMass: massMatrix != nil)
        if let error = W.setupError { throw error }
    }

    public var failureMessage: String? { W.failureMessage }

    /// How `J` is obtained.
    public var jacobianKind: JacobianEvaluator<Function>.Kind { jacobianEvaluator.kind }

    /// In `J`'s stored layout (dense, compressed sparse, or none for Jacobian-free GMRES).
    public var jacobianNorm: Double { jacobianEvaluator.infinityNorm(J) }

    @inlinable
    public mutating func evaluateJacobian(
        _ f: Function, _ p: [Scalar], t: Double, u: [Scalar], fu: [Scalar], h: Double, tolerance: ErrorScale,
        stats: inout SolverStats
    ) {
        jacobianEvaluator.evaluate(f, p, t: t, u: u, fu: fu, h: h, tolerance: tolerance, into: &J, stats: &stats)
        // Read only by the refinement rule, which needs Double states and M = I.
        if Scalar.self == Double.self && massMatrix == nil && refinesStages {
            jacobianMaxAbs = J.withUnsafeBytes { StageRefinement.largestMagnitude($0) }
        }
    }

    @inlinable public var jacobianDifferencesF: Bool { jacobianEvaluator.differencesF }

    public var jacobianIsFinite: Bool {
        J.withUnsafeBufferPointer { j in
            for x in j where !x.isFiniteScalar { return false }
            return true
        }
    }

    @inlinable
    public mutating func factor(alpha: Double, beta: Double, stats: inout SolverStats) -> Bool {
        W.factor(alpha: alpha, beta: beta, J: J, mass: massMatrix, stats: &stats)
    }

    @inlinable @inline(__always)
    public mutating func solve(_ x: UnsafeMutablePointer<Scalar>, stats: inout SolverStats) {
        W.solveInPlace(x, stats: &stats)
    }

    /// ``IterationMatrix`` counts its own solves (an iterative solver's by its own rule).
    @inlinable @inline(__always)
    public func countSolves(_ count: Int, stats: inout SolverStats) {}

    @inlinable @inline(__always)
    public func refinesSolves(gammaStep: Double) -> Bool {
        Scalar.self == Double.self && refinesStages && massMatrix == nil && W.isDense
            && gammaStep * jacobianMaxAbs > StageRefinement.threshold
    }

    /// (`Scalar` is `Double` here, by ``refinesSolves(gammaStep:)``, and the memory is bound to
    /// it.)
    @inlinable @inline(__always)
    public mutating func refine(
        _ x: UnsafeMutablePointer<Scalar>, rhs b: UnsafePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>,
        alpha: Double, stats: inout SolverStats
    ) {
        let r = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: Double.self)
        let xd = UnsafeMutableRawPointer(x).assumingMemoryBound(to: Double.self)
        Self.refinementResidual(
            J, b: UnsafeRawPointer(b).assumingMemoryBound(to: Double.self), x: xd, alpha: alpha, into: r, n: n)
        W.solveInPlace(scratch, stats: &stats)
        for i in 0..<n { xd[i] += r[i] }
    }

    /// `r = b − αx + J x`, each component summed by ``StageRefinement/accumulate(_:_:_:_:)``
    /// (static: nothing of the system is copied).
    @inlinable @inline(__always)
    static func refinementResidual(
        _ J: [Scalar], b: UnsafePointer<Double>, x: UnsafeMutablePointer<Double>, alpha: Double,
        into r: UnsafeMutablePointer<Double>, n: Int
    ) {
        J.withUnsafeBufferPointer { jb in
            guard let base = jb.baseAddress else { return }
            let J = UnsafeRawPointer(base).assumingMemoryBound(to: Double.self)
            for i in 0..<n {
                var sum = b[i], carry = 0.0
                StageRefinement.accumulate(&sum, &carry, -alpha, x[i])
                for j in 0..<n { StageRefinement.accumulate(&sum, &carry, J[i &+ j &* n], x[j]) }
                r[i] = sum + carry
            }
        }
    }
}
