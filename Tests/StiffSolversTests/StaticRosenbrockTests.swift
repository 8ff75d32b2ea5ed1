import DiffEqCore
import Glibc
import ProblemLibrary
import StiffSolvers
import Testing

/// The fixed-size form of the Rosenbrock methods (`StaticRosenbrockStepper`) against the array
/// form (`RosenbrockStepper`), both in `ODEIntegrator`: with the same Jacobian (analytic in both,
/// or forward differences in both) they run the same operations in the same order, so the same
/// problem must give the same steps, statistics and numbers, bit for bit.
@Suite struct StaticRosenbrockTests {
    static func expectSame<S: StaticState>(
        _ a: StaticODESolution<S>, _ b: ODESolution<Double>, _ what: String
    ) where S.Scalar == Double {
        #expect(a.retcode == b.retcode, "\(what)")
        #expect(a.message == b.message, "\(what)")
        #expect(a.stats == b.stats, "\(what)")
        #expect(a.t == b.t, "\(what)")
        #expect(a.u.map(\.array) == b.u, "\(what)")
        #expect(a.algorithm == b.algorithm, "\(what)")
    }

    /// ``expectSame(_:_:_:)``, and `a(t)` (with `derivative`, also `a.derivative(t)`) equals the
    /// array solution's to the bit at each of `times`: the check of a fixed-size form's dense
    /// output, shared by the Rosenbrock and SDIRK fixed-size tests.
    static func expectSameInterpolant<S: StaticState>(
        _ a: StaticODESolution<S>, _ b: ODESolution<Double>, at times: some Sequence<Double>,
        derivative: Bool, _ what: String
    ) throws where S.Scalar == Double {
        expectSame(a, b, what)
        for t in times {
            #expect(try a(t).array == b(t), "\(what) at t = \(t)")
            if derivative { #expect(try a.derivative(t).array == b.derivative(t), "\(what) at t = \(t)") }
        }
    }

    /// Options that exercise the loop's parts: tight and loose tolerances (rejections), Rodas
    /// dense output through `saveat`, stops inside the span, fixed steps.
    static let optionCases: [(String, SolveOptions)] = [
        ("1e-4", SolveOptions(reltol: 1e-4, abstol: 1e-4)),
        ("1e-9 end only", SolveOptions(reltol: 1e-9, abstol: 1e-9, saveEverystep: false)),
        ("saveat", SolveOptions(reltol: 1e-6, abstol: 1e-6, saveat: .every(0.13))),
        ("tstops", SolveOptions(reltol: 1e-6, abstol: 1e-7, tstops: [0.4, 1.1])),
    ]

    @Test(arguments: RosMethod.allCases, 0..<optionCases.count)
    func vanDerPolMatchesTheArrayFormBitwise(method: RosMethod, option: Int) throws {
        let (name, options) = Self.optionCases[option]
        Self.expectSame(
            try method.solveStatic(TestProblems.staticVanDerPol(), options: options),
            try method.solve(TestProblems.vanDerPol(), options: options), "VDPOL \(method) \(name)")
    }

    @Test(arguments: RosMethod.allCases, 0..<optionCases.count)
    func hiresMatchesTheArrayFormBitwise(method: RosMethod, option: Int) throws {
        var (name, options) = Self.optionCases[option]
        // HIRES runs to t = 321.8: save and stop at points of its own scale.
        if options.saveat != nil { options.saveat = .every(13.7) }
        if !options.tstops.isEmpty { options.tstops = [5, 100] }
        Self.expectSame(
            try method.solveStatic(TestProblems.staticHires(), options: options),
            try method.solve(TestProblems.hires(), options: options), "HIRES \(method) \(name)")
    }

    /// Fixed steps (no error control): the same steps and numbers too.
    @Test func fixedStepsMatchTheArrayForm() throws {
        let options = SolveOptions(dt: 1e-3, adaptive: false)
        Self.expectSame(
            try Rodas4().solve(TestProblems.staticVanDerPol(), options: options),
            try Rodas4().solve(TestProblems.vanDerPol(), options: options), "VDPOL fixed steps")
    }

    /// The end states reach the test set's references as the array form's do (within 10
    /// tolerances in the test set's mixed error, the bound of RosenbrockAccuracyTests).
    @Test(arguments: [RosMethod.rodas4, .rodas5P])
    func endStatesMatchTheReferences(method: RosMethod) throws {
        for reltol in [1e-6, 1e-8] { try BothFormsChecks.expectEndStatesNearTheReferences(method, reltol: reltol) }
    }

    /// A stiff linear system whose `W` needs row exchanges (``Cascade``), non-autonomous (∂f/∂t
    /// by the difference quotient), with finite-difference Jacobians in both forms; n = 2 (LU
    /// factors by value), n = 3 (`SIMD3`, factors in memory with padded columns) and n = 5
    /// (`StaticVector`, factors in memory).
    @Test(arguments: RosMethod.allCases)
    func nonAutonomousFiniteDifferenceMatchesTheArrayForm(method: RosMethod) throws {
        let options = SolveOptions(reltol: 1e-7, abstol: 1e-9, saveat: .every(0.1))
        let sol = try BothFormsChecks.expectSameCascade(method, options: options)
        #expect(sol.stats.njacsFiniteDifference == sol.stats.njacs && sol.stats.njacs > 0)
        // The Jacobian counts as f evaluations, one per column; ∂f/∂t one more per Jacobian.
        #expect(sol.stats.nf > (5 + 1) * sol.stats.njacs)
    }

    /// The same problem with an analytic Jacobian in both forms: bitwise equal again, and no
    /// finite differences.
    @Test func analyticClosureJacobianMatchesTheArrayForm() throws {
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-10)
        let a = try Rodas5P().solve(Cascade.staticProblem(SIMD2<Double>.self, analytic: true), options: options)
        Self.expectSame(a, try Rodas5P().solve(Cascade.arrayProblem(count: 2, analytic: true), options: options), "analytic")
        #expect(a.stats.njacsFiniteDifference == 0 && a.stats.njacs > 0)
        // `.finiteDifferences` overrides the analytic Jacobian, as in the array form.
        Self.expectSame(
            try Rodas5P(jacobian: .finiteDifferences).solve(
                Cascade.staticProblem(SIMD2<Double>.self, analytic: true), options: options),
            try Rodas5P(jacobian: .finiteDifferences).solve(Cascade.arrayProblem(count: 2, analytic: true), options: options),
            "forced finite differences")
    }

    // MARK: Bad input and failures: the array form's errors and return codes

    @Test func invalidInputThrowsTheArrayFormsErrors() throws {
        let staticProblem = TestProblems.staticVanDerPol()
        let arrayProblem = TestProblems.vanDerPol()
        for options in [SolveOptions(reltol: 0), SolveOptions(reltol: -1e-6), SolveOptions(abstol: .scalar(-1))] {
            var arrayError: DiffEqError?
            do { _ = try Rodas5P().solve(arrayProblem, options: options) } catch { arrayError = error }
            #expect(arrayError != nil)
            #expect(throws: arrayError!) { try Rodas5P().solve(staticProblem, options: options) }
        }
        var empty = staticProblem
        empty.tspan = (1, 1)
        #expect(throws: DiffEqError.invalidTimeSpan(t0: 1, t1: 1)) { try Rodas5P().solve(empty, options: SolveOptions()) }
        var nanStart = staticProblem
        nanStart.u0 = SIMD2(.nan, 0)
        #expect(throws: DiffEqError.nonFiniteInitialState(component: 0)) {
            try Rodas5P().solve(nanStart, options: SolveOptions())
        }
    }

    /// `f` turns NaN at t > 0.5: the same return code, message, steps and saved values.
    @Test(arguments: RosMethod.allCases)
    func nanFromFEndsAsInTheArrayForm(method: RosMethod) throws {
        let staticProblem = StaticODEProblem(
            f: { (u: SIMD2<Double>, _: Double, t: Double) -> SIMD2<Double> in
                t > 0.5 ? SIMD2(.nan, .nan) : SIMD2(u[1], -u[0])
            }, u0: SIMD2(1, 0), tspan: (0, 1), p: 0)
        let arrayProblem = ODEProblem(
            f: { (du: inout [Double], u: [Double], _: [Double], t: Double) in
                if t > 0.5 {
                    du[0] = .nan
                    du[1] = .nan
                } else {
                    du[0] = u[1]
                    du[1] = -u[0]
                }
            }, u0: [1.0, 0.0], tspan: (0, 1))
        let a = try method.solveStatic(staticProblem, options: SolveOptions())
        let b = try method.solve(arrayProblem, options: SolveOptions())
        #expect(!a.retcode.isSuccessful)
        Self.expectSame(a, b, "NaN from f, \(method)")
    }

    /// `u' = 4u`, Rodas4 (`γ = 1/4`), first step `h = 1`: `W = 1/(γh) − 4 = 0` exactly. A rejected
    /// step, then success; with fixed steps, `.convergenceFailure` with the array form's message.
    @Test func singularWAsInTheArrayForm() throws {
        let staticGrowth = StaticODEProblem(
            StaticClosureRHS(
                { (u: StaticVector<1>, _: Double, _: Double) -> StaticVector<1> in u * 4 },
                jacobian: { _, _, _ in
                    var J = StaticVector<1>.SquareMatrix()
                    J[0, 0] = 4
                    return J
                }), u0: [1], tspan: (0, 2), p: 0)
        let arrayGrowth = ODEProblem(
            f: { du, u, _, _ in du[0] = 4 * u[0] }, jacobian: { J, _, _, _ in J[0] = 4 }, u0: [1.0], tspan: (0, 2))
        let adaptive = SolveOptions(reltol: 1e-8, abstol: 1e-10, dt: 1)
        let a = try Rodas4().solve(staticGrowth, options: adaptive)
        #expect(a.retcode == .success && a.stats.nreject >= 1)
        Self.expectSame(a, try Rodas4().solve(arrayGrowth, options: adaptive), "singular W, adaptive")
        let fixed = SolveOptions(dt: 1, adaptive: false)
        let b = try Rodas4().solve(staticGrowth, options: fixed)
        #expect(b.retcode == .convergenceFailure)
        #expect(b.message?.contains("singular") == true)
        Self.expectSame(b, try Rodas4().solve(arrayGrowth, options: fixed), "singular W, fixed steps")
    }

    /// Stepping by hand and `reinit` repeat the solve exactly.
    @Test func integratorStepsAndReinit() throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6)
        var integrator = try Rodas5P().makeIntegrator(TestProblems.staticVanDerPol(), options: options)
        var steps = 0
        while integrator.step() { steps += 1 }
        #expect(integrator.retcode == .success)
        let first = integrator.solution
        #expect(first.stats.naccept == steps + 1)
        try integrator.reinit()
        let second = integrator.solve()
        #expect(second.u.map(\.array) == first.u.map(\.array))
        #expect(second.stats == first.stats)
    }
}

extension RosMethod {
    func solveStatic<F: StaticODEFunction>(_ problem: StaticODEProblem<F>, options: SolveOptions) throws
        -> StaticODESolution<F.State> where F.State.Scalar == Double
    {
        switch self {
        case .rosenbrock23: return try Rosenbrock23().solve(problem, options: options)
        case .rodas4: return try Rodas4().solve(problem, options: options)
        case .rodas5P: return try Rodas5P().solve(problem, options: options)
        }
    }
}

/// `u' = A u + g(t)`: `A` lower bidiagonal plus a small superdiagonal, diagonal −1, −1000,
/// −2000, …, subdiagonal 10⁴, superdiagonal 0.5, and `g_i(t) = sin((i + 1) t)`. Stiff and
/// non-autonomous; once the fast modes have decayed the steps grow until the subdiagonal entries
/// of `W = I/(γh) − A` exceed its diagonal, so the factorization exchanges rows.
enum Cascade {
    static func a(_ i: Int, _ j: Int) -> Double {
        if i == j { return i == 0 ? -1 : -1000 * Double(i) }
        if i == j + 1 { return 1e4 }
        if j == i + 1 { return 0.5 }
        return 0
    }

    static func rhs<S: StaticState>(_ u: S, _ t: Double) -> S where S.Scalar == Double {
        var du = S()
        let n = u.scalarCount
        for i in 0..<n {
            var r = Glibc.sin(Double(i + 1) * t)
            for j in 0..<n { r += a(i, j) * u[j] }
            du[i] = r
        }
        return du
    }

    static func jacobian<S: StaticState>(_: S.Type) -> S.SquareMatrix where S.Scalar == Double {
        var J = S.SquareMatrix()
        let n = S().scalarCount
        for i in 0..<n { for j in 0..<n { J[i, j] = a(i, j) } }
        return J
    }

    static func staticProblem<S: StaticState>(_: S.Type, analytic: Bool = false) -> StaticODEProblem<StaticClosureRHS<S, Double>> where S.Scalar == Double {
        var u0 = S()
        for i in 0..<u0.scalarCount { u0[i] = Double(i + 1) / 4 }
        let f: StaticClosureRHS<S, Double>.Function = { u, _, t in rhs(u, t) }
        let J = jacobian(S.self)
        let jac: StaticClosureRHS<S, Double>.JacobianFunction = { _, _, _ in J }
        return StaticODEProblem(StaticClosureRHS(f, jacobian: analytic ? jac : nil), u0: u0, tspan: (0, 3), p: 0)
    }

    static func arrayProblem(count n: Int, analytic: Bool = false) -> ODEProblem<ClosureRHS<Double>> {
        let f: ClosureRHS<Double>.Function = { du, u, _, t in
            for i in 0..<n {
                var r = Glibc.sin(Double(i + 1) * t)
                for j in 0..<n { r += a(i, j) * u[j] }
                du[i] = r
            }
        }
        let jac: ClosureRHS<Double>.Function = { J, _, _, _ in
            for i in 0..<n { for j in 0..<n { J[i + j * n] = a(i, j) } }
        }
        return ODEProblem(f: f, jacobian: analytic ? jac : nil, u0: (0..<n).map { Double($0 + 1) / 4 }, tspan: (0, 3))
    }
}
