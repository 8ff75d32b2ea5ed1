import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import Testing

/// ROBER as the index-1 DAE of RosenbrockDAETests (`M = diag(1, 1, 0)`, the third equation
/// replaced by `0 = y1 + y2 + y3 − 1`) in the fixed-size generic form, the same operations in the
/// same order as `RosRoberDAE`.
struct StaticRoberDAE: StaticODEModel {
    func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
        -> FixedVector<N, S>
    {
        let r1 = p[0] * u[0]
        let r2 = p[1] * u[1] * u[1]
        let r3 = p[2] * u[1] * u[2]
        var du = u
        du[0] = r3 - r1
        du[1] = r1 - r2 - r3
        du[2] = u[0] + u[1] + u[2] - 1
        return du
    }
}

/// Van der Pol (μ = 1000 in the time-scaled form of the test set's VDPOL, `ε = 1e-6`) as a
/// generic model in both forms, the same operations in the same order: no analytic Jacobian,
/// so both forms take `J` by forward mode on nested duals.
struct GenericVanDerPol: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[1]
        du[1] = ((1 - u[0] * u[0]) * u[1] - u[0]) / p[0]
    }
}

struct StaticGenericVanDerPol: StaticODEModel {
    func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
        -> FixedVector<N, S>
    {
        var du = u
        du[0] = u[1]
        du[1] = ((1 - u[0] * u[0]) * u[1] - u[0]) / p[0]
        return du
    }
}

/// The fixed-size Rosenbrock stepper's two additions against the array form, which is the
/// reference for both (same operations in the same order, so the same bits): first-order dual
/// states (`FixedVector<N, Dual<K, Double>>`, `W`'s values factored once, `J` by forward mode on
/// nested duals) and a mass matrix (`StaticODEProblem.massMatrix`).
@Suite struct StaticRosenbrockMassAndDualTests {
    static let diagonalMass: StaticMatrix<3, StaticVector<3>> = {
        var m = StaticMatrix<3, StaticVector<3>>()
        m[0, 0] = 1
        m[1, 1] = 1
        return m
    }()

    static func staticRober(tEnd: Double) -> StaticODEProblem<StaticModelRHS<StaticRoberDAE, 3, 3, Double>> {
        var prob = StaticODEProblem(
            model: StaticRoberDAE(), u0: [1.0, 0, 0] as StaticVector<3>, tspan: (0, tEnd),
            p: [0.04, 3e7, 1e4] as StaticVector<3>)
        prob.massMatrix = diagonalMass
        return prob
    }

    static func solve<F: StaticODEFunction>(_ method: RosMethod, _ problem: StaticODEProblem<F>, _ options: SolveOptions)
        throws -> StaticODESolution<F.State> where F.State.Scalar: StaticRosenbrockScalar
    {
        switch method {
        case .rosenbrock23: return try Rosenbrock23().solve(problem, options: options)
        case .rodas4: return try Rodas4().solve(problem, options: options)
        case .rodas5P: return try Rodas5P().solve(problem, options: options)
        }
    }

    /// ROBER as a DAE with `M = diag(1, 1, 0)`: the fixed-size form takes the array form's
    /// steps to the bit (every method, the test set's tolerances, saved at three times and at
    /// every step), and Rodas5P meets the test set's reference at t = 1e11 (Mazzia & Magherini,
    /// release 2.4) within 10 tolerances, as RosenbrockDAETests requires of the array form.
    @Test(arguments: RosMethod.allCases, [1e-6, 1e-8])
    func roberDAEMatchesTheArrayFormBitwise(method: RosMethod, reltol: Double) throws {
        let abstol = TestProblems.roberInfo.testSetAbstol(reltol: reltol)
        let tEnd = method == .rosenbrock23 ? 4e5 : 1e11
        for options in [
            SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveat: .times([40, 4e5, tEnd])),
            SolveOptions(reltol: reltol, abstol: .scalar(abstol)),
        ] {
            let fixed = try Self.solve(method, Self.staticRober(tEnd: tEnd), options)
            let array = try method.solve(RosenbrockDAETests.roberDAE(tEnd: tEnd), options: options)
            #expect(fixed.retcode == .success && array.retcode == .success)
            #expect(fixed.stats == array.stats, "\(method) \(reltol)")
            #expect(fixed.t == array.t)
            #expect(fixed.u.map(\.array) == array.u, "\(method) \(reltol)")
        }
        if method == .rodas5P {
            let sol = try Self.solve(
                method, Self.staticRober(tEnd: 1e11), SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveEverystep: false))
            let end = try #require(sol.u.last).array
            #expect(tolerancesOfError(end, TestProblems.roberReference.u, reltol: reltol, abstol: abstol) <= 10)
            #expect(Swift.abs(end[0] + end[1] + end[2] - 1) < 1e-14)
        }
    }

    /// A full mass matrix goes through the general product, as in the array form: `M u' = M A u`
    /// has the solution of `u' = A u`, and both forms take the same steps.
    @Test func fullMassMatrixMatchesTheArrayForm() throws {
        struct Linear: StaticODEModel {
            func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
                -> FixedVector<N, S>
            {
                // M A u with M = [[2, 1], [1, 1]] and A = [[-1, 0], [0, -100]].
                var du = u
                du[0] = -2 * u[0] - 100 * u[1]
                du[1] = -1 * u[0] - 100 * u[1]
                return du
            }
        }
        struct ArrayLinear: ODEModel {
            func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
                du[0] = -2 * u[0] - 100 * u[1]
                du[1] = -1 * u[0] - 100 * u[1]
            }
        }
        var m = StaticMatrix<2, StaticVector<2>>()
        m[0, 0] = 2
        m[1, 0] = 1
        m[0, 1] = 1
        m[1, 1] = 1
        var fixed = StaticODEProblem(model: Linear(), u0: [1.0, 1.0] as StaticVector<2>, tspan: (0, 1), p: StaticVector<1>())
        fixed.massMatrix = m
        var array = ODEProblem(model: ArrayLinear(), u0: [1.0, 1.0], tspan: (0, 1), p: [0.0])
        array.massMatrix = [2, 1, 1, 1]
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-10)
        let a = try Rodas5P().solve(fixed, options: options)
        let b = try Rodas5P().solve(array, options: options)
        #expect(a.stats == b.stats)
        #expect(a.u.map(\.array) == b.u)
        let end = try #require(a.u.last)
        #expect(Swift.abs(end[0] - exp(-1.0)) < 1e-7)
        #expect(Swift.abs(end[1] - exp(-100.0)) < 1e-7)
    }

    /// A mass matrix on a method without mass-matrix support is refused before any work, as in
    /// the array form; so is one with a non-finite entry.
    @Test func massMatrixIsValidated() {
        var prob = Self.staticRober(tEnd: 1)
        var bad = Self.diagonalMass
        bad[2, 2] = .nan
        prob.massMatrix = bad
        #expect(throws: DiffEqError.self) { try Rodas5P().solve(prob, options: SolveOptions()) }
    }

    /// One dual solve in both forms: the parameters seeded (direction `j` scaled by `p_j`), as
    /// ForwardDiffSensitivity seeds them. Values, partials, steps and counters equal.
    static func expectSameDualSolve<Method: StiffMethodInBothForms, let K: Int, M: ODEModel, SM: StaticODEModel, let N: Int, let P: Int>(
        _ method: Method, array model: M, fixed staticModel: SM, u0: [Double], p fixedP: StaticVector<P>, tEnd: Double,
        mass: [Double]?, staticMass: StaticMatrix<N, StaticVector<N>>?, options: SolveOptions, width: Dual<K, Double>.Type
    ) throws {
        typealias D = Dual<K, Double>
        let p = fixedP.array
        var pd = p.map { D(constant: $0) }
        for j in 0..<Swift.min(K, P) { pd[j].partials[j] = p[j] }
        let ud = u0.map { D(constant: $0) }
        var array = ODEProblem(model: model, u0: ud, tspan: (0, tEnd), p: pd)
        array.massMatrix = mass
        var u0Fixed = FixedVector<N, D>()
        for i in 0..<N { u0Fixed[i] = ud[i] }
        var pFixed = FixedVector<P, D>()
        for k in 0..<P { pFixed[k] = pd[k] }
        var fixed = StaticODEProblem(model: staticModel, u0: u0Fixed, tspan: (0, tEnd), p: pFixed)
        fixed.massMatrix = staticMass.map { m in
            var lifted = FixedVector<N, D>.SquareMatrix()
            for j in 0..<N { for i in 0..<N { lifted[i, j] = D(constant: m[i, j]) } }
            return lifted
        }
        let a = try method.solveFixed(fixed, options: options)
        let b = try method.solve(array, options: options, jacobian: .automatic)
        #expect(a.retcode == b.retcode && a.message == b.message, "\(method)")
        #expect(a.retcode == .success, "\(method): \(a.retcode) \(a.message ?? "")")
        #expect(a.stats == b.stats, "\(method)")
        #expect(a.t == b.t)
        func bits(_ x: D) -> [UInt64] { [x.value.bitPattern] + (0..<K).map { x.partials[$0].bitPattern } }
        #expect(a.u.map { u in (0..<N).flatMap { bits(u[$0]) } } == b.u.map { u in u.flatMap(bits) }, "\(method)")
    }

    /// VDPOL (stiff, `ε = 1e-6`) on `FixedVector<2, Dual<1, Double>>`: the array form's dual solve
    /// to the bit, every method, saved at every step and at fixed times (Rodas dense output; not
    /// Rosenbrock23 at 1e-8, which needs more than the default `maxiters` in both forms).
    @Test(arguments: RosMethod.allCases)
    func dualVanDerPolMatchesTheArrayFormBitwise(method: RosMethod) throws {
        let cases = [
            SolveOptions(reltol: 1e-6, abstol: 1e-6), SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.25)),
        ]
        for options in method == .rosenbrock23 ? [cases[0]] : cases {
            try Self.expectSameDualSolve(
                method, array: GenericVanDerPol(), fixed: StaticGenericVanDerPol(), u0: [2, 0], p: [1e-6] as StaticVector<1>, tEnd: 2,
                mass: nil, staticMass: nil as StaticMatrix<2, StaticVector<2>>?, options: options,
                width: Dual<1, Double>.self)
        }
    }

    /// ROBER as a DAE on `FixedVector<3, Dual<4, Double>>` (three rate constants seeded, one
    /// direction unused): the mass matrix and the dual factorization together, as the array form.
    @Test(arguments: [RosMethod.rodas4, .rodas5P])
    func dualRoberDAEMatchesTheArrayFormBitwise(method: RosMethod) throws {
        let abstol = TestProblems.roberInfo.testSetAbstol(reltol: 1e-6)
        try Self.expectSameDualSolve(
            method, array: RosRoberDAE(), fixed: StaticRoberDAE(), u0: [1, 0, 0], p: [0.04, 3e7, 1e4] as StaticVector<3>, tEnd: 4e5,
            mass: RosenbrockDAETests.mass, staticMass: Self.diagonalMass,
            options: SolveOptions(reltol: 1e-6, abstol: .scalar(abstol), saveat: .times([1, 40, 4e5])),
            width: Dual<4, Double>.self)
    }
}

/// A stiff method of the tests in both forms (``RosMethod``, ``SDIRKMethod``), for the checks
/// that compare the two forms.
protocol StiffMethodInBothForms: CustomStringConvertible {
    func solve<F: ODEFunction>(_ problem: ODEProblem<F>, options: SolveOptions, jacobian: JacobianSource) throws
        -> ODESolution<F.Scalar>
    func solveFixed<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions) throws
        -> StaticODESolution<F.State> where F.State.Scalar: StaticRosenbrockScalar
}

extension RosMethod: StiffMethodInBothForms {
    func solveFixed<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions) throws
        -> StaticODESolution<F.State> where F.State.Scalar: StaticRosenbrockScalar
    {
        try StaticRosenbrockMassAndDualTests.solve(self, problem, options)
    }
}

/// Comparisons of the two forms that every stiff family's fixed-size tests run (the Rosenbrock
/// and SDIRK suites), written once over ``StiffMethodInBothForms``.
enum BothFormsChecks {
    /// `sol(t)` and `sol.derivative(t)` with `dense: true` equal the array form's to the bit on
    /// VDPOL (n = 2, factors by value, also refusing a time past the end) and `sol(t)` on HIRES
    /// (n = 8, factors in memory).
    static func expectSameDenseOutput<Method: StiffMethodInBothForms>(_ method: Method) throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6, dense: true)
        let a = try method.solve(TestProblems.vanDerPol(), options: options, jacobian: .automatic)
        let b = try method.solveFixed(TestProblems.staticVanDerPol(), options: options)
        #expect(b.denseOutput != nil)
        let tEnd = a.t.last!
        try StaticRosenbrockTests.expectSameInterpolant(
            b, a, at: stride(from: 0.0, through: tEnd, by: tEnd / 997), derivative: true, "VDPOL \(method)")
        #expect(throws: InterpolationError.self) { try b(tEnd + 1) }
        let c = try method.solve(TestProblems.hires(), options: options, jacobian: .automatic)
        let d = try method.solveFixed(TestProblems.staticHires(), options: options)
        try StaticRosenbrockTests.expectSameInterpolant(
            d, c, at: stride(from: 0.0, through: 321.8122, by: 1.37), derivative: false, "HIRES \(method)")
    }

    /// ``Cascade`` (a `W` that needs row exchanges, non-autonomous) with difference Jacobians in
    /// both forms: n = 2 (`SIMD2`, factors by value), n = 3 (`SIMD3`, factors in memory with
    /// padded columns) and n = 5 (`StaticVector`, in memory) give the same solutions to the bit.
    /// Returns the n = 5 fixed-size solution for the caller's own checks of its counters.
    static func expectSameCascade<Method: StiffMethodInBothForms>(
        _ method: Method, options: SolveOptions
    ) throws -> StaticODESolution<StaticVector<5>> {
        StaticRosenbrockTests.expectSame(
            try method.solveFixed(Cascade.staticProblem(SIMD2<Double>.self), options: options),
            try method.solve(Cascade.arrayProblem(count: 2), options: options, jacobian: .automatic), "cascade n = 2 \(method)")
        StaticRosenbrockTests.expectSame(
            try method.solveFixed(Cascade.staticProblem(SIMD3<Double>.self), options: options),
            try method.solve(Cascade.arrayProblem(count: 3), options: options, jacobian: .automatic), "cascade n = 3 \(method)")
        let sol = try method.solveFixed(Cascade.staticProblem(StaticVector<5>.self), options: options)
        StaticRosenbrockTests.expectSame(
            sol, try method.solve(Cascade.arrayProblem(count: 5), options: options, jacobian: .automatic), "cascade n = 5 \(method)")
        return sol
    }
}

extension BothFormsChecks {
    /// The ball bouncing with restitution 0.9 (a continuous event with an affect on a `SIMD2`
    /// state, analytic Jacobian) to t = 15: the fixed-size solution is the array form's bit for
    /// bit, and bounce `k` comes within 1e-9 of `t₁(1 + 2e(1 − e^k)/(1 − e))`, `t₁ =
    /// sqrt(2·50/g)`: k = 0, 1, 2 (3.19 s, 8.94 s, 14.11 s; the next is at 18.77 s).
    static func expectBouncingBall<Method: StiffMethodInBothForms>(_ method: Method) throws {
        let e = 0.9
        let bounce = ContinuousCallback<Double>(
            condition: { u, t, p in u[0] }, upcrossing: nil, downcrossing: { ctx in ctx.u[1] = -e * ctx.u[1] })
        var (fixed, array) = fallingBall(until: 15)
        fixed.callbacks = CallbackSet(bounce)
        array.callbacks = CallbackSet(bounce)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10)
        let sol = try method.solveFixed(fixed, options: options)
        #expect(sol.retcode == .success)
        StaticRosenbrockTests.expectSame(
            sol, try method.solve(array, options: options, jacobian: .automatic), "bouncing ball \(method)")
        let t1 = (2 * 50 / gravity).squareRoot()
        // The times saved twice (before and after the affect) are the events.
        let bounces = zip(sol.t.dropFirst(), sol.t).filter { $0 == $1 }.map(\.0)
        #expect(bounces.count == 3)
        for (k, time) in bounces.enumerated() {
            let analytic = t1 * (1 + 2 * e * (1 - pow(e, Double(k))) / (1 - e))
            #expect(abs(time - analytic) < 1e-9, "\(method) bounce \(k) at \(time), analytic \(analytic)")
        }
    }

    /// VDPOL's and HIRES's fixed-size end states within 10 tolerances of the IVP test set's
    /// references (Mazzia & Magherini), ending exactly at the references' times.
    static func expectEndStatesNearTheReferences<Method: StiffMethodInBothForms>(_ method: Method, reltol: Double) throws {
        let vdpol = StiffTestSet.vdpol, hires = StiffTestSet.hires
        let a = try method.solveFixed(TestProblems.staticVanDerPol(), options: vdpol.options(reltol: reltol))
        let b = try method.solveFixed(TestProblems.staticHires(), options: hires.options(reltol: reltol))
        #expect(a.retcode == .success && b.retcode == .success)
        #expect(a.t.last == vdpol.reference.t && b.t.last == hires.reference.t)
        let errorA = tolerancesOfError(
            a.u.last!.array, vdpol.reference.u, reltol: reltol, abstol: vdpol.info.testSetAbstol(reltol: reltol))
        let errorB = tolerancesOfError(
            b.u.last!.array, hires.reference.u, reltol: reltol, abstol: hires.info.testSetAbstol(reltol: reltol))
        #expect(errorA <= 10, "VDPOL \(method) \(reltol): \(errorA) tolerances")
        #expect(errorB <= 10, "HIRES \(method) \(reltol): \(errorB) tolerances")
    }
}
