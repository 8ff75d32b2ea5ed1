// Bad input ends in a typed error before any work, never a trap: shapes, non-finite values,
// noise kinds a method does not support, mis-declared additive noise, mismatched noise
// processes, and every NoiseError.
import DiffEqCore
import StochasticDE
import Testing

@Suite struct SDEValidationTests {
    let f: SDEClosures<Double>.Function = { du, u, _, _ in du[0] = -u[0] }
    let g: SDEClosures<Double>.Function = { g, u, _, _ in g[0] = 0.1 * u[0] }

    @Test func diffusionOfTheWrongShape() {
        let resizing = SDEProblem(f: f, g: { g, _, _, _ in g = [1, 2] }, u0: [1.0], tspan: (0, 1))
        #expect(throws: SDEError.wrongOutputLength(what: "diffusion", expected: 1, got: 2)) {
            try SDEStepper(problem: resizing, algorithm: EM())
        }
        // General noise wants n × m values; a diffusion that writes only n is caught by its NaN-free
        // but wrong-length output too.
        let general = SDEProblem(
            f: { du, u, _, _ in du[0] = u[0]; du[1] = u[1] }, g: { g, _, _, _ in g = [1, 2] }, u0: [1.0, 1.0], tspan: (0, 1),
            noise: .general(wienerProcesses: 3))
        #expect(throws: SDEError.wrongOutputLength(what: "diffusion", expected: 6, got: 2)) {
            try SDEStepper(problem: general, algorithm: EM())
        }
        let resizedDrift = SDEProblem(f: { du, _, _, _ in du = [] }, g: g, u0: [1.0], tspan: (0, 1))
        #expect(throws: SDEError.wrongOutputLength(what: "drift", expected: 1, got: 0)) {
            try SDEStepper(problem: resizedDrift, algorithm: SRIW1())
        }
    }

    @Test func noiseKindsAMethodDoesNotSupport() {
        let diagonal = SDEProblem(f: f, g: g, u0: [1.0], tspan: (0, 1))
        let general = SDEProblem(f: f, g: g, u0: [1.0], tspan: (0, 1), noise: .general(wienerProcesses: 1))
        for (problem, algorithm) in [(diagonal, SRA1() as any SDEAlgorithm), (diagonal, SOSRA()), (general, RKMil()), (general, SRIW1()), (general, SOSRI())] {
            #expect(throws: SDEError.self) { try SDEStepper(problem: problem, algorithm: algorithm) }
            do {
                _ = try SDEStepper(problem: problem, algorithm: algorithm)
            } catch {
                guard case .unsupportedNoise = error else {
                    Issue.record("expected unsupportedNoise, got \(error)")
                    continue
                }
            }
        }
        for algorithm in [EM() as any SDEAlgorithm, EulerHeun()] {
            #expect(throws: Never.self) { try SDEStepper(problem: general, algorithm: algorithm) }
        }
    }

    @Test func additiveDeclarationIsChecked() {
        let multiplicative = SDEProblem(f: f, g: g, u0: [1.0], tspan: (0, 1), noise: .additive)
        #expect(throws: SDEError.diffusionNotAdditive(component: 0)) { try SDEStepper(problem: multiplicative, algorithm: SRA1()) }
        let timeDependent = SDEProblem(f: f, g: { g, _, _, t in g[0] = 0.1 + t }, u0: [1.0], tspan: (0, 1), noise: .additive)
        #expect(throws: Never.self) { try SDEStepper(problem: timeDependent, algorithm: SOSRA()) }
    }

    @Test func nonFiniteValuesAtTheStart() {
        let nanG = SDEProblem(f: f, g: { g, _, _, _ in g[0] = .nan }, u0: [1.0], tspan: (0, 1))
        #expect(throws: SDEError.nonFiniteDiffusion(component: 0)) { try SDEStepper(problem: nanG, algorithm: EM()) }
        let infF = SDEProblem(f: { du, _, _, _ in du[0] = .infinity }, g: g, u0: [1.0], tspan: (0, 1))
        #expect(throws: SDEError.nonFiniteDrift(component: 0)) { try SDEStepper(problem: infF, algorithm: EM()) }
        let nanU0 = SDEProblem(f: f, g: g, u0: [.nan], tspan: (0, 1))
        #expect(throws: SDEError.nonFiniteInitialState(component: 0)) { try SDEStepper(problem: nanU0, algorithm: EM()) }
    }

    @Test func spansStatesAndProcessCounts() {
        #expect(throws: SDEError.emptyState) { try SDEStepper(problem: SDEProblem(f: f, g: g, u0: [], tspan: (0, 1)), algorithm: EM()) }
        #expect(throws: SDEError.invalidTimeSpan(t0: 1, t1: 1)) {
            try SDEStepper(problem: SDEProblem(f: f, g: g, u0: [1.0], tspan: (1, 1)), algorithm: EM())
        }
        #expect(throws: SDEError.self) {
            try SDEStepper(problem: SDEProblem(f: f, g: g, u0: [1.0], tspan: (0, .infinity)), algorithm: EM())
        }
        #expect(throws: SDEError.invalidWienerCount(0)) {
            try SDEStepper(problem: SDEProblem(f: f, g: g, u0: [1.0], tspan: (0, 1), noise: .general(wienerProcesses: 0)), algorithm: EM())
        }
    }

    @Test func noiseThatDoesNotFitTheStepper() throws {
        let prob = SDEProblem(f: f, g: g, u0: [1.0], tspan: (0, 1))
        let stepper = try SDEStepper(problem: prob, algorithm: SRIW1())
        #expect(throws: SDEError.self) { try stepper.check(try WienerProcess(dimension: 1, seed: 0)) }
        #expect(throws: SDEError.self) { try stepper.check(try WienerProcess(dimension: 2, seed: 0, auxiliary: true)) }
        #expect(throws: Never.self) { try stepper.check(try WienerProcess(dimension: 1, seed: 0, auxiliary: true)) }
    }

    @Test func stepRefusesArraysOfTheWrongLength() throws {
        let prob = SDEProblem(f: f, g: g, u0: [1.0], tspan: (0, 1))
        var stepper = try SDEStepper(problem: prob, algorithm: SRIW1())
        var u = [1.0]
        var short: [Double] = []
        #expect(throws: SDEError.self) { try stepper.step(&u, t: 0, dt: 0.1, dW: [0.1, 0.2], dZ: [0.1]) }
        #expect(throws: SDEError.self) { try stepper.step(&u, t: 0, dt: 0.1, dW: [0.1], dZ: []) }
        #expect(throws: SDEError.self) { try stepper.step(&short, t: 0, dt: 0.1, dW: [0.1], dZ: [0.1]) }
        #expect(u == [1.0])
        try stepper.step(&u, t: 0, dt: 0.1, dW: [0.1], dZ: [0.1])
        #expect(u[0] != 1.0)
    }

    @Test func noiseErrors() throws {
        #expect(throws: NoiseError.self) { try WienerProcess(dimension: 0, seed: 0) }
        #expect(throws: NoiseError.self) { try VirtualBrownianTree(t0: 1, t1: 0, dimension: 1, seed: 0, tolerance: 0.1) }
        #expect(throws: NoiseError.self) { try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 0, tolerance: 0) }
        #expect(throws: NoiseError.self) { try NoiseGrid(times: [0, 0], values: [0, 1]) }
        #expect(throws: NoiseError.self) { try NoiseGrid(times: [0, 1], values: [0, .nan]) }
        #expect(throws: NoiseError.self) { try NoiseGrid(times: [0, 1], values: [0, 1, 2]) }
        var w = try WienerProcess(dimension: 1, seed: 0)
        var dW = [0.0], none: [Double] = [], wrong = [0.0, 0.0], extra = [0.0]
        #expect(throws: NoiseError.nothingToAccept) { try w.accept() }
        #expect(throws: NoiseError.self) { try w.increment(to: 0, &dW, &none) }  // not after now
        #expect(throws: NoiseError.self) { try w.increment(to: .nan, &dW, &none) }
        #expect(throws: NoiseError.wrongLength(what: "dW", expected: 1, got: 2)) { try w.increment(to: 1, &wrong, &none) }
        #expect(throws: NoiseError.wrongLength(what: "dZ", expected: 0, got: 1)) { try w.increment(to: 1, &dW, &extra) }
        var grid = try NoiseGrid(times: [0, 1], values: [0, 1])
        #expect(throws: NoiseError.self) { try grid.increment(to: 2, &dW, &none) }
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 1, seed: 0, tolerance: 0.1)
        #expect(throws: NoiseError.self) { try tree.value(at: 1.5, into: &dW) }
        var treeNoise = BrownianTreeNoise(tree)
        #expect(throws: NoiseError.self) { try treeNoise.increment(to: 2, &dW, &none) }
        #expect(throws: NoiseError.nothingToAccept) { try treeNoise.accept() }
    }

    @Test func everyErrorHasAMessage() {
        let errors: [SDEError] = [
            .emptyState, .nonFiniteInitialState(component: 1), .invalidTimeSpan(t0: 0, t1: 0), .invalidWienerCount(0),
            .wrongOutputLength(what: "drift", expected: 1, got: 2), .nonFiniteDiffusion(component: 0), .nonFiniteDrift(component: 0),
            .unsupportedNoise(method: "SRA1", noise: "diagonal", why: "x"), .diffusionNotAdditive(component: 0),
            .noiseMismatch("x"), .invalidTableau("x"),
        ]
        for e in errors { #expect(!e.description.isEmpty) }
    }
}

@Suite struct SDETableauTests {
    @Test func libraryTableausMeetTheOrderConditions() {
        // Rational SRIW1 and SRA1: to rounding. The optimized SOSRI/SOSRA, published as 16-17
        // digit decimals, also meet them to rounding (measured 4.4e-16 and 8.9e-16).
        let sriw1 = SRIW1.tableau.orderConditionResiduals().map(abs).max()!
        let sosri = SOSRI.tableau.orderConditionResiduals().map(abs).max()!
        let sra1 = SRA1.tableau.orderConditionResiduals().map(abs).max()!
        let sosra = SOSRA.tableau.orderConditionResiduals().map(abs).max()!
        #expect(sriw1 < 1e-15 && sra1 < 1e-15, "SRIW1 \(sriw1), SRA1 \(sra1)")
        #expect(sosri < 1e-14 && sosra < 1e-14, "SOSRI \(sosri), SOSRA \(sosra)")
    }

    @Test func computedNodesMatchThePublishedOnes() {
        // c0 = A0 e and c1 = A1 e against the values printed with the SOSRI coefficients.
        let published0 = [0, -0.04199224421316468, 0.7898405466170333, 3.7504010171562823]
        let published1 = [0, 0.26204282091330466, 0.05879875232001766, 0.758661169101175]
        for i in 0..<4 {
            #expect(abs(SOSRI.tableau.c0[i] - published0[i]) < 1e-15)
            #expect(abs(SOSRI.tableau.c1[i] - published1[i]) < 1e-15)
        }
        #expect(SRIW1.tableau.c0 == [0, 0.75, 0, 0] && SRIW1.tableau.c1 == [0, 0.25, 1, 0.25])
        #expect(abs(SOSRA.tableau.c0[2] - 1) < 1e-15)
    }

    @Test func aUserTableauIsValidatedWhenBuilt() {
        // SRA1 with one weight perturbed fails condition 1 (αᵀe = 1).
        #expect(throws: SDEError.self) {
            try SRATableau(name: "bad", A0: [0, 0, 0.75, 0], B0: [0, 0, 1.5, 0], alpha: [0.3, 2.0 / 3], beta1: [1, 0], beta2: [-1, 1], c1: [1, 0])
        }
        #expect(throws: Never.self) {
            try SRATableau(name: "SRA1", A0: [0, 0, 0.75, 0], B0: [0, 0, 1.5, 0], alpha: [1.0 / 3, 2.0 / 3], beta1: [1, 0], beta2: [-1, 1], c1: [1, 0])
        }
        // Implicit coefficient refused.
        let t = SRIW1.tableau
        var a0 = t.A0
        a0[0] = 0.1
        #expect(throws: SDEError.self) {
            try SRITableau(name: "implicit", A0: a0, A1: t.A1, B0: t.B0, B1: t.B1, alpha: t.alpha, beta1: t.beta1, beta2: t.beta2, beta3: t.beta3, beta4: t.beta4)
        }
        #expect(throws: Never.self) {
            try SRITableau(name: "SRIW1", A0: t.A0, A1: t.A1, B0: t.B0, B1: t.B1, alpha: t.alpha, beta1: t.beta1, beta2: t.beta2, beta3: t.beta3, beta4: t.beta4, errorDriftStages: 2)
        }
    }
}
