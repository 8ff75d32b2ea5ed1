import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary

/// The fixed-size form (`StaticODEProblem`, `ExplicitRKStepper` on the one loop) against the array form: the
/// same problem must give the same steps and the same numbers, bit for bit, since both run the
/// same operations in the same order.
@Suite struct StaticStateTests {
    /// Every adaptive and fixed-step family member the form supports, with the options that
    /// exercise its parts: FSAL and not, DOP853's two-estimate norm, interpolants with lazily
    /// computed extra stages (Vern) through `saveat`, tstops.
    static let cases: [(name: String, algorithm: any ExplicitRKAlgorithm, options: SolveOptions)] = [
        ("Tsit5 1e-4", Tsit5(), SolveOptions(reltol: 1e-4, abstol: 1e-4)),
        ("Tsit5 1e-10", Tsit5(), SolveOptions(reltol: 1e-10, abstol: 1e-10)),
        ("Tsit5 saveat", Tsit5(), SolveOptions(reltol: 1e-7, abstol: 1e-9, saveat: .every(0.37))),
        ("Tsit5 tstops", Tsit5(), SolveOptions(reltol: 1e-6, abstol: 1e-6, tstops: [0.5, 2.25])),
        ("DP5", DP5(), SolveOptions(reltol: 1e-7, abstol: 1e-7, saveat: .times([0.1, 3.3]))),
        ("BS3", BS3(), SolveOptions(reltol: 1e-5, abstol: 1e-6)),
        ("DP8", DP8(), SolveOptions(reltol: 1e-9, abstol: 1e-9)),
        ("Vern7 saveat", Vern7(), SolveOptions(reltol: 1e-9, abstol: 1e-9, saveat: .every(0.25))),
        ("Vern9 saveat", Vern9(), SolveOptions(reltol: 1e-11, abstol: 1e-11, saveat: .every(0.5))),
        ("RK4 fixed", RK4(), SolveOptions(dt: 0.01, adaptive: false)),
        ("RK4 adaptive", RK4(), SolveOptions(reltol: 1e-7, abstol: 1e-9, saveat: .every(0.5))),
        ("Heun adaptive", Heun(), SolveOptions(reltol: 1e-4, abstol: 1e-6)),
    ]

    @Test(arguments: 0..<cases.count)
    func matchesArrayFormBitwise(_ index: Int) throws {
        let (name, algorithm, options) = Self.cases[index]
        // The fixed-size form keeps no dense output unless asked; with it on, the array form would
        // also count the f evaluations of the interpolants' extra stages (DP8, Verner) in every
        // step (FixedSizeLoopTests compares the two with it on).
        var arrayOptions = options
        arrayOptions.dense = false
        let arrayForm = try algorithm.solve(TestProblems.lorenz(tEnd: 5), options: arrayOptions)
        let fixedSize = try algorithm.solve(TestProblems.staticLorenz(tEnd: 5), options: options)
        #expect(fixedSize.retcode == arrayForm.retcode, "\(name)")
        #expect(fixedSize.stats == arrayForm.stats, "\(name)")
        #expect(fixedSize.t == arrayForm.t, "\(name)")
        #expect(fixedSize.u.map(\.array) == arrayForm.u, "\(name)")
        #expect(fixedSize.algorithm == arrayForm.algorithm)
    }

    @Test func staticVectorStateMatchesSIMD() throws {
        let p: StaticVector<3> = [10, 28, 8.0 / 3.0]
        let prob = StaticODEProblem(
            f: { (u: StaticVector<3>, p: StaticVector<3>, t: Double) -> StaticVector<3> in
                [p[0] * (u[1] - u[0]), u[0] * (p[1] - u[2]) - u[1], u[0] * u[1] - p[2] * u[2]]
            },
            u0: [1, 0, 0], tspan: (0, 5), p: p)
        let a = try solve(prob, Tsit5(), reltol: 1e-8, abstol: 1e-8)
        let b = try solve(TestProblems.staticLorenz(tEnd: 5), Tsit5(), reltol: 1e-8, abstol: 1e-8)
        #expect(a.retcode == .success)
        #expect(a.t == b.t)
        #expect(a.u.map(\.array) == b.u.map(\.array))
    }

    @Test func integratorReinitRepeatsTheSolve() throws {
        let prob = TestProblems.staticLorenz(tEnd: 2)
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6)
        var integrator = try Tsit5().makeIntegrator(prob, options: options)
        var steps = 0
        while integrator.step() { steps += 1 }
        let first = integrator.solution
        #expect(first.retcode == .success && integrator.t == 2)
        try integrator.reinit()
        let second = integrator.solve()
        #expect(second.t == first.t && second.u.map(\.array) == first.u.map(\.array))
        #expect(second.stats == first.stats && steps + 1 == first.stats.naccept)
    }

    @Test func invalidInputThrowsBeforeWork() throws {
        let prob = TestProblems.staticLorenz(tEnd: 1)
        #expect(throws: DiffEqError.self) { try solve(prob, Tsit5(), reltol: -1) }
        #expect(throws: DiffEqError.self) { try solve(prob, Euler()) }
        #expect(throws: DiffEqError.self) { try solve(prob, RK4(), dt: 1e-300, adaptive: false) }
        var bad = prob
        bad.u0 = SIMD3(.nan, 0, 0)
        #expect(throws: DiffEqError.self) { try solve(bad, Tsit5()) }
    }

    @Test func failuresAreReturnCodes() throws {
        // u' = u² from 1 blows up at t = 1.
        let blowup = StaticODEProblem(
            f: { (u: SIMD2<Double>, _: Void, _: Double) in u * u[0] }, u0: SIMD2(1, 1), tspan: (0, 2), p: ())
        let sol = try solve(blowup, Tsit5())
        #expect(!sol.retcode.isSuccessful)
        #expect(sol.t.last! < 1 && sol.t.last! > 0.99)
        let capped = try solve(TestProblems.staticLorenz(), Tsit5(), reltol: 1e-10, abstol: 1e-10, maxiters: 10)
        #expect(capped.retcode == .maxIters)
    }
}

/// The fixed-size forms of the benchmark problems (ProblemLibrary/StaticProblems.swift) against
/// their array forms: same steps, same numbers, bit for bit, for a method of each kind.
@Suite struct StaticBenchmarkProblemTests {
    static func expectSame<S: StaticState>(_ a: StaticODESolution<S>, _ b: ODESolution<Double>, _ what: String) where S.Scalar == Double {
        #expect(a.retcode == .success && b.retcode == .success, "\(what)")
        #expect(a.stats == b.stats, "\(what)")
        #expect(a.t == b.t, "\(what)")
        #expect(a.u.map(\.array) == b.u, "\(what)")
    }

    @Test func lotkaVolterraAndArenstorfMatchTheArrayForm() throws {
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.5))
        let methods: [(String, any ExplicitRKAlgorithm)] = [("Tsit5", Tsit5()), ("Vern7", Vern7()), ("DP8", DP8())]
        for (name, m) in methods {
            Self.expectSame(try m.solve(TestProblems.staticLotkaVolterra(), options: options),
                            try m.solve(TestProblems.lotkaVolterra(), options: options), "LV \(name)")
            Self.expectSame(try m.solve(TestProblems.staticArenstorf(), options: options),
                            try m.solve(TestProblems.arenstorf(), options: options), "Arenstorf \(name)")
        }
    }
}
