import DenseLinearAlgebra
import DiffEqCore

/// The ``StiffLinearSystem`` of fixed-size states (``StaticODEProblem``): `J` from
/// ``StaticJacobian`` (analytic, forward-mode AD for ``StaticModelRHS``, or the array form's
/// differences) as a fixed-size matrix, and `W = α M + β J` assembled as ``IterationMatrix``
/// assembles it and factored with the operations of DenseLinearAlgebra's unblocked kernel, so
/// that both forms round the same (`StaticIterationMatrix.swift`).
///
/// The scalar chooses the factorization (``StaticRosenbrockScalar``, resolved when the stepper
/// is specialized): for `Double`, the factors by value (``StaticLU``, at most ``registerLimit``
/// components and no mass matrix: straight-line code on registers) or in memory
/// (``StaticLUInMemory``); for first-order duals `Dual<K, Double>`, as the array form, only the
/// values of `W` factored (``FirstOrderDualLU``), the partials of each solve following from them.
public struct StaticStiffLinearSystem<Function: StaticODEFunction>: StiffLinearSystem
where Function.State.Scalar: StaticRosenbrockScalar {
    public typealias Matrix = Function.State.SquareMatrix

    @usableFromInline let source: StaticJacobian
    @usableFromInline var J = Matrix()
    /// `max_ij |J_ij|`, for the refinement rule of ``StageRefinement``.
    @usableFromInline var jacobianMaxAbs = 0.0
    /// Whether the stepper may refine its stage solves (as ``ArrayStiffLinearSystem``'s).
    @usableFromInline let refinesStages: Bool
    /// The mass matrix (`nil`: the identity), and its columns for the dual factorization.
    @usableFromInline let mass: Matrix?
    @usableFromInline let massColumns: [Double]?
    /// The factors by value (``factorsByValue``).
    @usableFromInline var lu: StaticLU<Matrix>
    /// The factors in memory (its stage slots unused); copied before writing when shared.
    @usableFromInline var block: StaticRosenbrockStages<Function.State>
    /// The factors of `W` for a dual state (``FirstOrderDualLU``), `nil` for `Double`.
    @usableFromInline var dualFactors: StaticDualIterationMatrix<Function.State>?

    /// The system of `f` with `J` from `jacobian`; `massMatrix` is the problem's (`nil`, or an
    /// identity given explicitly: no mass matrix, as `SolveSetup` does for arrays);
    /// `refinesStages: false` for a stepper that never asks ``refinesSolves(gammaStep:)``.
    public init(
        function f: Function, jacobian: JacobianSource = .automatic, massMatrix: Matrix? = nil,
        refinesStages: Bool = true
    ) {
        source = StaticJacobian(jacobian, for: f)
        self.refinesStages = refinesStages
        let n = Function.State().scalarCount
        let columns = massMatrix.map { m in (0..<(n * n)).map { k in m[k % n, k / n].primal } }
        if let M = columns, !(0..<n).allSatisfy({ j in (0..<n).allSatisfy { i in M[i + j * n] == (i == j ? 1 : 0) } }) {
            massColumns = M
            mass = massMatrix
        } else {
            massColumns = nil
            mass = nil
        }
        let isDual = Function.State.Scalar.firstOrderPartialCount != nil
        lu = StaticLU(Matrix())
        block = StaticRosenbrockStages(count: 0)
        dualFactors = isDual ? StaticDualIterationMatrix(count: n) : nil
    }

    /// The largest state solved with the LU factors held by value (``StaticLU``); above it they
    /// are kept in memory. Measured (rosen-step-bench, ns per step): n = 2, VDPOL Rodas5P, by
    /// value 215 against 280 in memory; n = 3, OREGO (`SIMD3`), in memory 303 against 309
    /// (Rodas5P) and 248 against 262 (Rodas4), alternating runs; n = 8, HIRES Rodas5P, in memory
    /// 620 against 1350 (by value, the loops no longer unroll and each access by a loop index
    /// moves a whole column through the stack).
    @inlinable public static var registerLimit: Int { 2 }

    /// Whether `Double` factors are held by value (``lu``) rather than in ``block``: a constant
    /// of the state type, so that the stage solves of a specialized stepper have one branch
    /// compiled in (a stored flag left both solves inlined in the stage loop, with the spills
    /// of the larger one).
    @inlinable static var factorsByValue: Bool { Function.State().scalarCount <= registerLimit }

    public func validate() throws(DiffEqError) {}
    public var failureMessage: String? { nil }
    /// Not computed (no fixed-size method switches on it).
    public var jacobianNorm: Double { .nan }

    @inlinable
    public mutating func evaluateJacobian(
        _ f: Function, _ p: Function.Parameters, t: Double, u: Function.State, fu: Function.State, h: Double,
        tolerance: ErrorScale, stats: inout SolverStats
    ) {
        J = source.evaluate(f, p, t: t, u: u, fu: fu, h: h, tolerance: tolerance, stats: &stats)
        guard refinesStages else { return }
        let n = Function.State().scalarCount
        var largest = 0.0
        for j in 0..<n { for i in 0..<n { largest = Swift.max(largest, Swift.abs(J[i, j].primal)) } }
        jacobianMaxAbs = largest
    }

    @inlinable public var jacobianDifferencesF: Bool { source.usesDifferences }

    @inlinable
    public var jacobianIsFinite: Bool {
        var finite = true
        for j in 0..<Function.State().scalarCount { finite = finite && J[column: j].isFiniteState }
        return finite
    }

    @inlinable @inline(__always)
    public mutating func factor(alpha: Double, beta: Double, stats: inout SolverStats) -> Bool {
        stats.nluFactorizations += 1
        return Function.State.Scalar._factor(&self, alpha: alpha, beta: beta)
    }

    @inlinable @inline(__always)
    public mutating func solve(_ x: UnsafeMutablePointer<Function.State>, stats: inout SolverStats) {
        Function.State.Scalar._solve(&self, x)
    }

    @inlinable @inline(__always)
    public func countSolves(_ count: Int, stats: inout SolverStats) { stats.nlinsolves += count }

    @inlinable @inline(__always)
    public func refinesSolves(gammaStep: Double) -> Bool {
        Function.State.Scalar.firstOrderPartialCount == nil && refinesStages && mass == nil
            && gammaStep * jacobianMaxAbs > StageRefinement.threshold
    }

    @inlinable @inline(__always)
    public mutating func refine(
        _ x: UnsafeMutablePointer<Function.State>, rhs b: UnsafePointer<Function.State>,
        scratch: UnsafeMutablePointer<Function.State>, alpha: Double, stats: inout SolverStats
    ) {
        Function.State.Scalar._refine(&self, x, rhs: b, alpha: alpha)
    }
}

extension StaticStiffLinearSystem where Function.State.Scalar == Double {
    /// The in-memory factors, for the kernel's solve.
    @inlinable @inline(__always)
    var factorsInMemory: StaticLUInMemory<Function.State> {
        StaticLUInMemory.factored(a: block.factors, pivots: block.pivots, reciprocals: block.reciprocals)
    }
}

/// The stage values of a fixed-size solve and the LU factors of `W`, in one manually managed
/// block, copied before writing when shared so that integrators keep value semantics.
///
/// The factors live here, in memory, rather than in a local value above
/// ``StaticStiffLinearSystem/registerLimit``: the factorization's loops no longer unroll
/// completely, and on a local value of a SIMD state the optimizer turned each access by a loop
/// index into a spill of the whole column to the stack and a reload (a HIRES step, n = 8, took
/// 16 % longer than the array form's).
@usableFromInline
final class StaticRosenbrockStages<State: StaticState> {
    @usableFromInline let U: UnsafeMutablePointer<State>
    @usableFromInline let count: Int
    /// `W`, then its LU factors, column `j` at `j * ld` (``StaticLUKernel/leadingDimension(_:)``).
    @usableFromInline let factors: UnsafeMutablePointer<Double>
    @usableFromInline let reciprocals: UnsafeMutablePointer<Double>
    @usableFromInline let pivots: UnsafeMutablePointer<Int32>
    @usableFromInline let n: Int
    @usableFromInline let ld: Int

    @usableFromInline init(count: Int) {
        self.count = count
        U = .allocate(capacity: count)
        U.initialize(repeating: State(), count: count)
        n = State().scalarCount
        ld = StaticLUKernel.leadingDimension(State.self)
        factors = .allocate(capacity: n * ld)
        factors.initialize(repeating: 0, count: n * ld)
        reciprocals = .allocate(capacity: n)
        reciprocals.initialize(repeating: 0, count: n)
        pivots = .allocate(capacity: n)
        pivots.initialize(repeating: 0, count: n)
    }

    @usableFromInline func copy() -> StaticRosenbrockStages {
        let c = StaticRosenbrockStages(count: count)
        c.U.update(from: U, count: count)
        c.factors.update(from: factors, count: n * ld)
        c.reciprocals.update(from: reciprocals, count: n)
        c.pivots.update(from: pivots, count: n)
        return c
    }

    deinit {
        U.deinitialize(count: count)
        U.deallocate()
        factors.deallocate()
        reciprocals.deallocate()
        pivots.deallocate()
    }
}

/// A scalar the fixed-size stiff methods solve over: it chooses how `W` is factored for states
/// of its type. `Double` (``StaticLU``, ``StaticLUInMemory``) and first-order dual numbers over
/// `Double`, `Dual<K, Double>` (the values factored once, ``FirstOrderDualLU``, as the array form
/// does), conform. The choice is a static requirement so that it is made when the stepper is
/// specialized, not per step.
public protocol StaticRosenbrockScalar: DiffEqScalar {
    /// Factors `W = α M + β J` of `system`'s current `J` (``StiffLinearSystem/factor(alpha:beta:stats:)``).
    static func _factor<F: StaticODEFunction>(_ system: inout StaticStiffLinearSystem<F>, alpha: Double, beta: Double)
        -> Bool where F.State.Scalar == Self
    /// Solves with `system`'s factors in place (``StiffLinearSystem/solve(_:stats:)``).
    static func _solve<F: StaticODEFunction>(_ system: inout StaticStiffLinearSystem<F>, _ x: UnsafeMutablePointer<F.State>)
    where F.State.Scalar == Self
    /// One refinement of a solved stage (``StiffLinearSystem/refine(_:rhs:scratch:alpha:stats:)``).
    static func _refine<F: StaticODEFunction>(
        _ system: inout StaticStiffLinearSystem<F>, _ x: UnsafeMutablePointer<F.State>, rhs b: UnsafePointer<F.State>,
        alpha: Double) where F.State.Scalar == Self
}

extension StaticRosenbrockScalar {
    /// First-order dual states: the values of `W` factored (``FirstOrderDualLU``, the array
    /// form's).
    @inlinable @inline(__always)
    public static func _factor<F: StaticODEFunction>(
        _ system: inout StaticStiffLinearSystem<F>, alpha: Double, beta: Double
    ) -> Bool where F.State.Scalar == Self {
        // Taken out of the system while factored, so that its buffers are uniquely referenced.
        guard var factors = system.dualFactors else { return false }
        system.dualFactors = nil
        let ok = factors.factor(system.J, alpha: alpha, beta: beta, mass: system.massColumns)
        system.dualFactors = factors
        return ok
    }

    @inlinable @inline(__always)
    public static func _solve<F: StaticODEFunction>(
        _ system: inout StaticStiffLinearSystem<F>, _ x: UnsafeMutablePointer<F.State>
    ) where F.State.Scalar == Self {
        system.dualFactors.unsafelyUnwrapped.solve(x.pointee, into: x)
    }

    /// Never called: dual solves are not refined (``StaticStiffLinearSystem/refinesSolves(gammaStep:)``).
    @inlinable @inline(__always)
    public static func _refine<F: StaticODEFunction>(
        _ system: inout StaticStiffLinearSystem<F>, _ x: UnsafeMutablePointer<F.State>, rhs b: UnsafePointer<F.State>,
        alpha: Double
    ) where F.State.Scalar == Self {}
}

extension Double: StaticRosenbrockScalar {
    /// `W` factored by value (at most ``StaticStiffLinearSystem/registerLimit`` components: the
    /// factors are read from the system with no pointer chasing) or in memory.
    @inlinable @inline(__always)
    public static func _factor<F: StaticODEFunction>(
        _ system: inout StaticStiffLinearSystem<F>, alpha: Double, beta: Double
    ) -> Bool where F.State.Scalar == Double {
        if StaticStiffLinearSystem<F>.factorsByValue {
            let factored =
                system.mass.map { StaticLU.factoring(system.J, alpha: alpha, mass: $0) }
                ?? StaticLU.factoring(system.J, alpha: alpha, beta: beta)
            guard let lu = factored else { return false }
            system.lu = lu
            return true
        }
        if !isKnownUniquelyReferenced(&system.block) { system.block = system.block.copy() }
        let block = system.block
        if system.mass != nil {
            // Only `β = −1` (Rosenbrock's `M/(γh) − J`): the SDIRK methods take no mass matrix.
            return StaticLUInMemory<F.State>.factoring(
                &system.J, alpha: alpha, mass: system.mass, a: block.factors, pivots: block.pivots,
                reciprocals: block.reciprocals) != nil
        }
        return StaticLUInMemory<F.State>.factoring(
            &system.J, alpha: alpha, beta: beta, a: block.factors, pivots: block.pivots, reciprocals: block.reciprocals)
            != nil
    }

    @inlinable @inline(__always)
    public static func _solve<F: StaticODEFunction>(
        _ system: inout StaticStiffLinearSystem<F>, _ x: UnsafeMutablePointer<F.State>
    ) where F.State.Scalar == Double {
        if StaticStiffLinearSystem<F>.factorsByValue {
            x.pointee = system.lu.solve(x.pointee)
        } else {
            system.factorsInMemory.solve(x.pointee, into: x)
        }
    }

    @inlinable @inline(__always)
    public static func _refine<F: StaticODEFunction>(
        _ system: inout StaticStiffLinearSystem<F>, _ x: UnsafeMutablePointer<F.State>, rhs b: UnsafePointer<F.State>,
        alpha: Double
    ) where F.State.Scalar == Double {
        if StaticStiffLinearSystem<F>.factorsByValue {
            x.pointee = system.lu.refined(x.pointee, rhs: b.pointee, jacobian: system.J, alpha: alpha)
        } else {
            x.pointee = system.factorsInMemory.refined(x.pointee, rhs: b.pointee, jacobian: system.J, alpha: alpha)
        }
    }
}

extension Dual: StaticRosenbrockScalar where V == Double {}
