import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StiffSolvers

/// The forms gradients run on: the model behind closures (`ErasedModelRHS`), solved by code
/// compiled once in the method's module (`_solvePrecompiled`), must give the generic form's
/// (`GenericRHS`) solve bit for bit, values and partials, steps and counters; likewise the
/// adjoints' `Double` solves, forward and backward.
@Suite struct ForwardModeFormsTests {
    /// Lotka-Volterra as a user writes it: no analytic Jacobian, so a Rosenbrock method takes
    /// its Jacobian by forward mode on nested duals.
    struct UserLotkaVolterra: ODEModel {
        func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
            du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
            du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
        }
    }

    static func bits<let C: Int>(_ x: Dual<C, Double>) -> [UInt64] {
        [x.value.bitPattern] + (0..<C).map { x.partials[$0].bitPattern }
    }

    /// The dual solve both ways; the parameters seeded as the first four directions, `u0` as
    /// the next two where the width allows.
    static func compare<let C: Int, M: ODEModel, A: ODEAlgorithm>(
        _ model: M, _ algorithm: A, width: Dual<C, Double>.Type,
        erased: (ODEProblem<ErasedModelRHS<Dual<C, Double>>>, SolveOptions) throws(DiffEqError)
            -> ODESolution<Dual<C, Double>>
    ) throws {
        typealias D = Dual<C, Double>
        var p = [1.5, 1, 3, 1].map { D(constant: $0) }
        var u0 = [D(constant: 1), D(constant: 1)]
        for j in 0..<Swift.min(C, 6) {
            if j < 4 { p[j].partials[j] = p[j].value } else { u0[j - 4].partials[j] = 1 }
        }
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(1))
        let generic = try algorithm.solve(ODEProblem(model: model, u0: u0, tspan: (0, 10), p: p), options: options)
        let closures = try erased(ODEProblem(ErasedModelRHS<D>(model), u0: u0, tspan: (0, 10), p: p), options)
        #expect(generic.retcode == .success && closures.retcode == .success)
        #expect(closures.stats == generic.stats)
        #expect(closures.t == generic.t)
        #expect(closures.algorithm == generic.algorithm)
        #expect(closures.u.map { $0.map(bits) } == generic.u.map { $0.map(bits) })
    }

    @Test func explicitRungeKuttaMatchesTheGenericForm() throws {
        try Self.compare(UserLotkaVolterra(), Tsit5(), width: Dual<2, Double>.self) { p, o throws(DiffEqError) in
            try Tsit5()._solvePrecompiled(p, options: o)
        }
        try Self.compare(UserLotkaVolterra(), Tsit5(), width: Dual<4, Double>.self) { p, o throws(DiffEqError) in
            try Tsit5()._solvePrecompiled(p, options: o)
        }
        try Self.compare(UserLotkaVolterra(), Vern7(), width: Dual<8, Double>.self) { p, o throws(DiffEqError) in
            try Vern7()._solvePrecompiled(p, options: o)
        }
        try Self.compare(LotkaVolterra(), DP5(), width: Dual<13, Double>.self) { p, o throws(DiffEqError) in
            try DP5()._solvePrecompiled(p, options: o)
        }
    }

    @Test func rosenbrockMatchesTheGenericForm() throws {
        // The forward-mode Jacobian (nested duals) behind a closure.
        try Self.compare(UserLotkaVolterra(), Rodas5P(), width: Dual<4, Double>.self) { p, o throws(DiffEqError) in
            try Rodas5P()._solvePrecompiled(p, options: o)
        }
        try Self.compare(UserLotkaVolterra(), Rosenbrock23(), width: Dual<8, Double>.self) { p, o throws(DiffEqError) in
            try Rosenbrock23()._solvePrecompiled(p, options: o)
        }
        // The analytic Jacobian behind a closure, and finite differences chosen by the user.
        try Self.compare(LotkaVolterra(), Rodas5P(), width: Dual<13, Double>.self) { p, o throws(DiffEqError) in
            try Rodas5P()._solvePrecompiled(p, options: o)
        }
        let differenced = Rodas4(jacobian: .finiteDifferences)
        try Self.compare(UserLotkaVolterra(), differenced, width: Dual<2, Double>.self) { p, o throws(DiffEqError) in
            try differenced._solvePrecompiled(p, options: o)
        }
    }

    /// The `Double` solves of the adjoints: the forward solve of the model (dense output and
    /// every step kept, as the interpolating adjoints read it) and a backward system given by
    /// closures with a jump at interior `tstops` (a discrete callback, as `_sweepBackward`
    /// solves it), each behind closures and solved by `_solvePrecompiled`, against the same
    /// solve of the concrete right-hand-side type: the same steps, states, counters and dense
    /// output, bit for bit.
    static func compareDouble<F: ODEFunction, A: ODEAlgorithm>(
        _ f: F, _ algorithm: A, u0: [Double], tspan: (Double, Double), p: [Double], options: SolveOptions,
        callbacks: CallbackSet<Double> = CallbackSet()
    ) throws where F.Scalar == Double {
        let generic = try algorithm.solve(
            ODEProblem(f, u0: u0, tspan: tspan, p: p).remake(callbacks: callbacks), options: options)
        let closures = try algorithm._solvePrecompiled(
            ODEProblem(ErasedModelRHS(erasing: f), u0: u0, tspan: tspan, p: p).remake(callbacks: callbacks),
            options: options)
        #expect(generic.retcode == .success && closures.retcode == .success)
        #expect(closures.stats == generic.stats)
        #expect(closures.t == generic.t)
        #expect(closures.algorithm == generic.algorithm)
        #expect(closures.u.map { $0.map(\.bitPattern) } == generic.u.map { $0.map(\.bitPattern) })
        guard options.dense == true else { return }
        let (a, b) = (try #require(generic.denseOutput), try #require(closures.denseOutput))
        var (x, y) = ([Double](repeating: 0, count: u0.count), [Double](repeating: 0, count: u0.count))
        for k in 0...40 {
            let t = tspan.0 + (tspan.1 - tspan.0) * Double(k) / 40
            a.evaluate(at: t, into: &x)
            b.evaluate(at: t, into: &y)
            #expect(x.map(\.bitPattern) == y.map(\.bitPattern), "t = \(t)")
        }
    }

    @Test(arguments: [false, true])
    func doubleSolvesOfTheAdjointsMatchTheGenericForm(_ stiff: Bool) throws {
        let dense = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveEverystep: true, dense: true)
        let p = [1.5, 1, 3, 1]
        func check<A: ODEAlgorithm>(_ algorithm: A) throws {
            // Forward: a Jacobian by forward mode (Rosenbrock) and the model's analytic one.
            try Self.compareDouble(
                GenericRHS(UserLotkaVolterra(), as: Double.self), algorithm, u0: [1, 1], tspan: (0, 10), p: p,
                options: dense)
            try Self.compareDouble(
                GenericRHS(LotkaVolterra(), as: Double.self), algorithm, u0: [1, 1], tspan: (0, 10), p: p,
                options: dense)
            // Backward: a linear system in reverse time with an analytic Jacobian and a jump
            // at t = 4 and t = 7, as the adjoint's observations are.
            let backward = ClosureRHS<Double>(
                { du, u, _, t in
                    du[0] = -0.5 * u[0] + t * u[1]
                    du[1] = -2 * u[1] + u[0]
                },
                jacobian: { J, _, _, t in J[0] = -0.5; J[1] = 1; J[2] = t; J[3] = -2 })
            let jumps = DiscreteCallback<Double>(
                condition: { _, t, _ in t == 4 || t == 7 }, affect: { $0.u[0] += 1 }, savePositions: (false, false))
            var options = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveEverystep: false)
            options.tstops = [4, 7]
            try Self.compareDouble(
                backward, algorithm, u0: [0.5, -0.25], tspan: (10, 0), p: [], options: options,
                callbacks: CallbackSet(jumps))
        }
        if stiff {
            try check(Rodas5P())
            try check(Rosenbrock23())
        } else {
            try check(Tsit5())
            try check(Vern7())
        }
    }

    /// `UserLotkaVolterra` in the fixed-size generic form, the same operations in the same order.
    struct StaticLotkaVolterra: StaticODEModel {
        func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
            -> FixedVector<N, S>
        {
            var du = u
            du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
            du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
            return du
        }
    }

    static let staticProblem = StaticODEProblem(
        model: StaticLotkaVolterra(), u0: [1.0, 1.0] as StaticVector<2>, tspan: (0, 10), p: [1.5, 1, 3, 1] as StaticVector<4>)
    static let arrayProblem = ODEProblem(model: UserLotkaVolterra(), u0: [1.0, 1.0], tspan: (0, 10), p: [1.5, 1, 3, 1])

    /// `ForwardDiffSensitivity` on the fixed-size dual path gives the array form's gradient to
    /// the bit: four parameters (one `Dual<4>` chunk, the case) and parameters with the
    /// initial state (six directions, one `Dual<8>` chunk), at two tolerances.
    @Test(arguments: [1e-4, 1e-8])
    func fixedSizeGradientIsTheArrayFormsToTheBit(_ tol: Double) throws {
        let options = SolveOptions(reltol: tol, abstol: .scalar(tol), saveat: .every(1))
        for inputs in [GradientInputs.parameters, .parametersAndInitialState] {
            let fixed = try gradient(
                of: SumOfSquaresLoss(), Self.staticProblem, algorithm: Tsit5(), options: options, wrt: inputs)
            let array = try gradient(
                of: SumOfSquaresLoss(), Self.arrayProblem, algorithm: Tsit5(), options: options,
                sensealg: ForwardDiffSensitivity(), wrt: inputs)
            #expect(fixed.loss.bitPattern == array.loss.bitPattern)
            #expect(fixed.dp.map(\.bitPattern) == array.dp.map(\.bitPattern))
            #expect(fixed.du0.map(\.bitPattern) == array.du0.map(\.bitPattern))
            #expect(fixed.du0.count == (inputs == .parameters ? 0 : 2))
            #expect(fixed.stats == array.stats)
        }
    }

    /// Against central differences of the loss from plain solves at a tight tolerance
    /// (`h = 1e-5·|x|`; truncation `O(h²)` and solve error `1e-13/h` both below 1e-7 relative).
    @Test func fixedSizeGradientMatchesCentralDifferences() throws {
        let options = SolveOptions(reltol: 1e-11, abstol: 1e-11, saveat: .every(1))
        let r = try gradient(of: SumOfSquaresLoss(), Self.staticProblem, algorithm: Tsit5(), options: options)
        try Self.expectCentralDifferences(r)
    }

    /// `r`'s `dp + du0` against central differences of Lotka-Volterra's loss from plain Vern9
    /// solves at 1e-13 (`h = 1e-5·|x|`; truncation `O(h²)` and solve error `1e-13/h` both below
    /// 1e-7 relative), to 1e-6 relative.
    static func expectCentralDifferences(_ r: SensitivityResult) throws {
        func loss(p: [Double], u0: [Double]) throws -> Double {
            let tight = SolveOptions(reltol: 1e-13, abstol: 1e-13, saveat: .every(1))
            let sol = try Vern9().solve(ODEProblem(model: UserLotkaVolterra(), u0: u0, tspan: (0, 10), p: p), options: tight)
            return sol.u.reduce(0) { $0 + $1[0] * $1[0] + $1[1] * $1[1] }
        }
        let p0 = [1.5, 1, 3, 1], u00 = [1.0, 1.0]
        let exact = r.dp + r.du0
        for j in 0..<6 {
            var (pp, pm, up, um) = (p0, p0, u00, u00)
            let h = 1e-5 * (j < 4 ? p0[j] : u00[j - 4])
            if j < 4 { pp[j] += h; pm[j] -= h } else { up[j - 4] += h; um[j - 4] -= h }
            let difference = (try loss(p: pp, u0: up) - loss(p: pm, u0: um)) / (2 * h)
            #expect(Swift.abs(exact[j] - difference) <= 1e-6 * Swift.max(1, Swift.abs(difference)), "direction \(j)")
        }
    }

    /// Invalid input is refused before any solve, as in the array form.
    @Test func fixedSizeGradientRefusesBadInput() {
        #expect(throws: SensitivityError.self) {
            try gradient(
                of: SumOfSquaresLoss(), StaticODEProblem(model: StaticLotkaVolterra(), u0: [1.0, 1.0] as StaticVector<2>,
                    tspan: (10, 0), p: [1.5, 1, 3, 1] as StaticVector<4>),
                algorithm: Tsit5(), options: SolveOptions())
        }
        #expect(throws: SensitivityError.self) {
            try gradient(
                of: SumOfSquaresLoss(), Self.staticProblem, algorithm: Tsit5(),
                options: SolveOptions(reltol: -1, saveat: .every(1)))
        }
    }
}

