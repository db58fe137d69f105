// tb_vrt_packetizer: drives the documented known sample pattern through
// vrt_packetizer_axil and writes every output word, big-endian, back to back,
// to the file named by +out=PATH (default build/packets.bin).
//
// The pattern and its parameters are in hw/README.md ("Test pattern") and,
// machine-readable, in hw/tb/pattern.json: keep all three in sync.
//
//   sample n of pulse m of CPI k:
//     I = (k*4096 + m*64 + n) mod 2^16,  Q = I xor 0xFFFF  (= -1 - I)
//     time = T0 + ((k*P + m) * PRI + n * TS)   (UTC s + ps, carried)
//
// Sequence: 2 pulses of a CPI already in progress (k = 15, no CPI-start mark:
// must be discarded), CPI 0 (pointing A, 16 samples per packet), CPI 1
// (pointing B, 16 per packet, 3 sample_drop cycles just before sample 20 of
// pulse 2), CPI 2 (pointing B, 37 per packet: whole frames), then enable off
// and CPI 3 (must be discarded), then enable on and CPI 4 (pointing B, 5 per
// packet: many middle packets, packet count wraps). Input gaps and output backpressure come from
// a seeded $random, so every run writes the same file.
//
// Testbench-only code: initial blocks and delays are fine here.
`timescale 1ns / 1ps
module tb_vrt_packetizer;

    // ---- pattern parameters (hw/tb/pattern.json) ----
    localparam integer P          = 4;      // pulses per CPI
    localparam integer N          = 37;     // samples per pulse
    localparam [31:0]  SID        = 32'h7E5A_0001;
    localparam [31:0]  T0_SEC     = 32'd1700000000;
    localparam [63:0]  T0_PSEC    = 64'd999798000000;
    localparam [63:0]  PRI_PS     = 64'd100000000;     // 100 us
    localparam [63:0]  TS_PS      = 64'd100000;        // 10 MS/s
    localparam [63:0]  PS_PER_S   = 64'd1000000000000;
    // 9.41 GHz + 0.5 Hz and 10 MHz, 20 fraction bits
    localparam [63:0]  RF_FREQ    = (64'd9410000000 << 20) | (64'd1 << 19);
    localparam [63:0]  SRATE      = 64'd10000000 << 20;
    // elevation 1.5 deg, azimuth 45.25 deg; elevation -2.0078125 deg,
    // azimuth 359.9921875 deg (7 fraction bits each)
    localparam [31:0]  POINT_A    = {16'h00C0, 16'h16A0};
    localparam [31:0]  POINT_B    = {16'hFEFF, 16'hB3FF};

    reg clk = 1'b0;
    always #5 clk = ~clk;
    reg rst = 1'b1;

    reg  [31:0] s_axis_tdata  = 32'd0;
    reg  [1:0]  s_axis_tuser  = 2'd0;
    reg         s_axis_tlast  = 1'b0;
    reg         s_axis_tvalid = 1'b0;
    wire        s_axis_tready;
    reg  [31:0] s_ts_sec      = 32'd0;
    reg  [39:0] s_ts_psec     = 40'd0;
    reg         sample_drop   = 1'b0;
    wire [31:0] m_axis_tdata;
    wire        m_axis_tvalid;
    reg         m_axis_tready = 1'b0;
    wire        m_axis_tlast;

    reg  [7:0]  awaddr = 8'd0, araddr = 8'd0;
    reg         awvalid = 1'b0, wvalid = 1'b0, arvalid = 1'b0;
    reg         bready = 1'b0, rready = 1'b0;
    reg  [31:0] wdata = 32'd0;
    wire        awready, wready, bvalid, arready, rvalid;
    wire [1:0]  bresp, rresp;
    wire [31:0] rdata;

    vrt_packetizer_axil #(.AW(6), .SPP_RESET(362)) dut (
        .clk(clk), .rst(rst),
        .s_axis_tdata(s_axis_tdata), .s_axis_tuser(s_axis_tuser),
        .s_axis_tlast(s_axis_tlast), .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .s_ts_sec(s_ts_sec), .s_ts_psec(s_ts_psec), .sample_drop(sample_drop),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast),
        .s_axil_awaddr(awaddr), .s_axil_awvalid(awvalid), .s_axil_awready(awready),
        .s_axil_wdata(wdata), .s_axil_wstrb(4'hF), .s_axil_wvalid(wvalid),
        .s_axil_wready(wready), .s_axil_bresp(bresp), .s_axil_bvalid(bvalid),
        .s_axil_bready(bready),
        .s_axil_araddr(araddr), .s_axil_arvalid(arvalid), .s_axil_arready(arready),
        .s_axil_rdata(rdata), .s_axil_rresp(rresp), .s_axil_rvalid(rvalid),
        .s_axil_rready(rready)
    );

    integer seed_in  = 7;     // input gaps
    integer seed_out = 11;    // output backpressure
    integer fd;
    reg [8*256-1:0] out_path;
    integer words_out = 0, packets_out = 0, errors = 0;
    integer cycle = 0;

    // ---- output: capture every word; AXI-Stream stability check ----
    reg        was_stalled = 1'b0;
    reg [31:0] stalled_data;
    reg        stalled_last;
    always @(posedge clk) begin
        cycle = cycle + 1;
        if (was_stalled && !(m_axis_tvalid && m_axis_tdata == stalled_data
                             && m_axis_tlast == stalled_last)) begin
            $display("TB ERROR: output changed while stalled at cycle %0d", cycle);
            errors = errors + 1;
        end
        was_stalled  = m_axis_tvalid && !m_axis_tready;
        stalled_data = m_axis_tdata;
        stalled_last = m_axis_tlast;
        if (m_axis_tvalid && m_axis_tready) begin
            if ((^{m_axis_tdata, m_axis_tlast}) === 1'bx) begin
                $display("TB ERROR: X/Z in output word %0d at cycle %0d", words_out, cycle);
                errors = errors + 1;
            end
            $fwrite(fd, "%c%c%c%c", m_axis_tdata[31:24], m_axis_tdata[23:16],
                    m_axis_tdata[15:8], m_axis_tdata[7:0]);
            words_out = words_out + 1;
            if (m_axis_tlast) packets_out = packets_out + 1;
        end
    end

    // Backpressure: ready 3 cycles in 4 on average, and fully stalled for
    // 120 of every 700 cycles so both payload banks fill and the input waits.
    always @(negedge clk) begin
        if (rst)
            m_axis_tready <= 1'b0;
        else if ((cycle % 700) >= 580)
            m_axis_tready <= 1'b0;
        else
            m_axis_tready <= (($random(seed_out) & 3) != 0);
    end

    // ---- AXI4-Lite master tasks (drive on negedge, sample on posedge) ----
    task axil_write(input [7:0] addr, input [31:0] data);
        reg done;
        begin
            @(negedge clk);
            awaddr = addr; awvalid = 1'b1; wdata = data; wvalid = 1'b1; bready = 1'b1;
            done = 1'b0;
            while (!done) begin
                @(posedge clk); done = awready && wready;
                @(negedge clk);
            end
            awvalid = 1'b0; wvalid = 1'b0;
            done = 1'b0;
            while (!done) begin
                @(posedge clk); done = bvalid;
                @(negedge clk);
            end
            bready = 1'b0;
        end
    endtask

    task axil_read(input [7:0] addr, output [31:0] data);
        reg done;
        begin
            @(negedge clk);
            araddr = addr; arvalid = 1'b1; rready = 1'b1;
            done = 1'b0;
            while (!done) begin
                @(posedge clk); done = arready;
                @(negedge clk);
            end
            arvalid = 1'b0;
            done = 1'b0;
            while (!done) begin
                @(posedge clk); done = rvalid; data = rdata;
                @(negedge clk);
            end
            rready = 1'b0;
        end
    endtask

    task expect_reg(input [7:0] addr, input [31:0] want, input [8*16-1:0] name);
        reg [31:0] got;
        begin
            axil_read(addr, got);
            if (got !== want) begin
                $display("TB ERROR: register %0s (0x%02h) = %0d (0x%08h), expected %0d",
                         name, addr, got, got, want);
                errors = errors + 1;
            end else begin
                $display("TB: register %0s = %0d", name, got);
            end
        end
    endtask

    // ---- sample source ----
    // Called just after a negedge; returns just after a negedge with the
    // sample accepted. Random idle cycles (tvalid low) before some samples.
    task send_sample(input integer k, input integer m, input integer n,
                     input first, input cpi_first);
        reg done;
        reg [63:0] total_ps;
        reg [15:0] i_val;
        begin
            while (($random(seed_in) & 7) == 0) begin
                s_axis_tvalid = 1'b0;
                @(negedge clk);
            end
            i_val     = k * 4096 + m * 64 + n;
            total_ps  = T0_PSEC + (k * P + m) * PRI_PS + n * TS_PS;
            s_ts_sec  = T0_SEC + total_ps / PS_PER_S;
            s_ts_psec = total_ps % PS_PER_S;
            s_axis_tdata  = {i_val, ~i_val};
            s_axis_tuser  = {cpi_first && first, first};
            s_axis_tlast  = (n == N - 1);
            s_axis_tvalid = 1'b1;
            done = 1'b0;
            while (!done) begin
                @(posedge clk); done = s_axis_tvalid && s_axis_tready;
                @(negedge clk);
            end
            s_axis_tvalid = 1'b0;
        end
    endtask

    task send_pulse(input integer k, input integer m, input cpi_mark);
        integer n, gap;
        begin
            for (n = 0; n < N; n = n + 1) begin
                if (k == 1 && m == 2 && n == 20) begin
                    // Upstream FIFO overflow: 3 samples lost just here.
                    sample_drop = 1'b1;
                    repeat (3) @(negedge clk);
                    sample_drop = 1'b0;
                end
                send_sample(k, m, n, n == 0, cpi_mark && m == 0);
            end
            // receive-window gap until the next pulse
            gap = $random(seed_in) & 31;
            repeat (gap) @(negedge clk);
        end
    endtask

    task send_cpi(input integer k);
        integer m;
        begin
            for (m = 0; m < P; m = m + 1)
                send_pulse(k, m, 1'b1);
        end
    endtask

    reg [31:0] status;
    integer wait_cycles;
    initial begin
        if (!$value$plusargs("out=%s", out_path))
            out_path = "build/packets.bin";
        fd = $fopen(out_path, "wb");
        if (fd == 0) begin
            $display("TB ERROR: cannot open %0s", out_path);
            $finish;
        end

        repeat (10) @(negedge clk);
        rst = 1'b0;
        repeat (2) @(negedge clk);

        expect_reg(8'h58, 32'h5652_5401, "ID");
        expect_reg(8'h0C, 32'd362, "SPP reset");
        expect_reg(8'h5C, 32'd64, "MAX_SPP");
        axil_write(8'h08, SID);
        axil_write(8'h0C, 32'd16);
        axil_write(8'h10, RF_FREQ[63:32]);
        axil_write(8'h14, RF_FREQ[31:0]);
        axil_write(8'h18, SRATE[63:32]);
        axil_write(8'h1C, SRATE[31:0]);
        axil_write(8'h20, POINT_A);
        axil_write(8'h00, 32'd1);
        expect_reg(8'h10, RF_FREQ[63:32], "RF_FREQ_HI");
        expect_reg(8'h14, RF_FREQ[31:0], "RF_FREQ_LO");

        // A CPI already in progress when enabled: discarded.
        send_pulse(15, 2, 1'b1);
        send_pulse(15, 3, 1'b1);

        send_cpi(0);
        axil_write(8'h20, POINT_B);
        send_cpi(1);
        axil_write(8'h0C, 32'd37);
        send_cpi(2);
        axil_write(8'h00, 32'd0);
        send_cpi(3);                       // enable off: discarded
        axil_write(8'h0C, 32'd5);
        axil_write(8'h00, 32'd1);
        send_cpi(4);                       // enabled again, 5 per packet

        // Drain: output idle and both banks empty.
        wait_cycles = 0;
        status = 32'hFFFF_FFFF;
        while ((status & 32'h34) != 0 && wait_cycles < 100000) begin
            axil_read(8'h04, status);
            wait_cycles = wait_cycles + 1;
        end
        repeat (20) @(negedge clk);

        expect_reg(8'h40, 32'd60, "DATA_PKTS");
        expect_reg(8'h44, 32'd4,  "CTX_PKTS");
        expect_reg(8'h48, 32'd3,  "DROPPED");
        expect_reg(8'h4C, 32'd16, "FRAMES");
        expect_reg(8'h50, 32'd0,  "FRAME_ERRS");
        expect_reg(8'h04, 32'd1,  "STATUS");   // running, idle
        axil_write(8'h00, 32'd2);          // clear counters
        expect_reg(8'h40, 32'd0,  "DATA_PKTS clr");

        $fclose(fd);
        $display("TB: %0d words, %0d packets written to %0s", words_out, packets_out, out_path);
        if (packets_out != 64) begin
            $display("TB ERROR: %0d packets, expected 64", packets_out);
            errors = errors + 1;
        end
        if (errors != 0)
            $fatal(1, "TB FAIL: %0d errors", errors);
        $display("TB PASS");
        $finish;
    end

    initial begin
        #20_000_000;
        $fatal(1, "TB FAIL: timeout");
    end

endmodule
