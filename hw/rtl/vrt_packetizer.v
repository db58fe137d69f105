// vrt_packetizer: radar receive-window samples -> VITA 49.2 (VRT) packets.
//
// Packet profile: /work/shared/docs/formats.md section 3, as implemented in
// hw/README.md (keep the two in sync; the standard wins over both).
//
// Verilog-2001, one clock, synchronous active-high reset, no initial blocks.
//
// Data path:
//   s_axis (one ci16 sample per beat, one pulse = one sample frame)
//     -> writer: fills one bank of a two-bank payload RAM with at most
//        spp samples, latches the first sample's timestamp, then hands the
//        bank over (bank_full) with a descriptor (size, frame indicator,
//        CPI flag, loss flag, context snapshot)
//     -> reader: emits [context packet] header, payload from the RAM,
//        trailer on m_axis, then frees the bank.
// The header carries the packet size and first-sample timestamp, so a whole
// packet's payload is buffered before its header goes out; with two banks the
// writer fills packet k+1 while the reader sends packet k.
//
// Register map (byte addresses; see hw/README.md for reset values):
//   0x00 CTRL        RW  bit0 enable (sampled at each CPI start),
//                        bit1 clear status counters (write 1, self-clearing)
//   0x04 STATUS      RO  bit0 running, bit1 loss pending, bit2 output busy,
//                        bits5:4 bank full flags
//   0x08 STREAM_ID   RW
//   0x0C SPP         RW  samples per data packet, 1..MAX_SPP (clamped)
//   0x10 RF_FREQ_HI  RW  RF reference frequency, Hz, 64-bit, 20 fraction bits
//   0x14 RF_FREQ_LO  RW
//   0x18 SRATE_HI    RW  sample rate, Hz, 64-bit, 20 fraction bits
//   0x1C SRATE_LO    RW
//   0x20 POINTING    RW  {elevation s9.7 deg, azimuth u9.7 deg}
//   0x40 DATA_PKTS   RO  data packets sent
//   0x44 CTX_PKTS    RO  context packets sent
//   0x48 DROPPED     RO  samples dropped upstream (sample_drop cycles)
//   0x4C FRAMES      RO  sample frames (pulses) packetized
//   0x50 FRAME_ERRS  RO  pulses that started before the previous one's tlast
//   0x58 ID          RO  0x56525401 ("VRT", version 1)
//   0x5C MAX_SPP     RO  payload buffer size in samples
`timescale 1ns / 1ps
module vrt_packetizer #(
    parameter AW        = 10,   // log2 of the payload bank size in samples
    parameter SPP_RESET = 362   // fills a 1500-byte MTU: (1472 / 4) - 6
) (
    input  wire        clk,
    input  wire        rst,

    // Sample stream: tdata = {I[15:0], Q[15:0]}, two's complement.
    // tuser[0]: first sample of a pulse; tuser[1]: this pulse is the first
    // of a CPI (both on the first sample). tlast: last sample of the pulse.
    // ts_sec/ts_psec: UTC time of the sample on tdata (same beat).
    input  wire [31:0] s_axis_tdata,
    input  wire [1:0]  s_axis_tuser,
    input  wire        s_axis_tlast,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    input  wire [31:0] s_ts_sec,
    input  wire [39:0] s_ts_psec,

    // One cycle high per sample lost upstream (FIFO overflow).
    input  wire        sample_drop,

    // Packet words, big-endian 32-bit, tlast on the last word of a packet.
    output reg  [31:0] m_axis_tdata,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready,
    output wire        m_axis_tlast,

    // Register port: write strobe with address, combinational read mux.
    input  wire        reg_wr,
    input  wire [7:0]  reg_waddr,
    input  wire [31:0] reg_wdata,
    input  wire [7:0]  reg_raddr,
    output reg  [31:0] reg_rdata
);

    localparam [AW:0] MAX_SPP = 1 << AW;

    // ------------------------------------------------------------------
    // Registers
    // ------------------------------------------------------------------
    reg        ctrl_enable;
    reg [31:0] stream_id;
    reg [15:0] spp_reg;
    reg [63:0] rf_freq;
    reg [63:0] srate;
    reg [31:0] pointing;

    reg [31:0] cnt_data_pkts, cnt_ctx_pkts, cnt_dropped, cnt_frames, cnt_frame_errs;

    // Effective samples per packet: clamp to 1..MAX_SPP so a bad write can
    // never overrun a bank.
    reg [AW:0] spp;
    always @(posedge clk) begin
        if (rst)
            spp <= (SPP_RESET > MAX_SPP) ? MAX_SPP : SPP_RESET;
        else if (spp_reg == 16'd0)
            spp <= 1;
        else if ({16'd0, spp_reg} > {{(31-AW){1'b0}}, MAX_SPP})
            spp <= MAX_SPP;
        else
            spp <= spp_reg[AW:0];
    end

    // ------------------------------------------------------------------
    // Writer: sample stream -> payload bank + descriptor
    // ------------------------------------------------------------------
    reg  [AW:0] wr_cnt;        // samples already in the packet being filled
    reg         wr_bank;
    reg         in_frame;      // between a pulse's first sample and its tlast
    reg         frame_cpi;     // current pulse is the first of a CPI
    reg         pkt_first;     // packet being filled is the first of its frame
    reg         running;
    reg         loss_pending;
    reg  [31:0] cpi_sid;       // stream ID snapshot taken at CPI start
    reg  [1:0]  bank_full;

    // Per-bank descriptors (written by the writer while it owns the bank).
    reg  [AW:0] d_n    [0:1];
    reg  [1:0]  d_sfi  [0:1];
    reg         d_cpi  [0:1];
    reg         d_loss [0:1];
    reg         d_ctx  [0:1];
    reg  [31:0] d_sid  [0:1];
    reg  [31:0] d_sec  [0:1];
    reg  [39:0] d_psec [0:1];
    reg  [63:0] d_rf   [0:1];
    reg  [63:0] d_sr   [0:1];
    reg  [31:0] d_pt   [0:1];

    wire sof       = !in_frame || s_axis_tuser[0];
    wire cpi_start = sof && s_axis_tuser[1];
    // Streaming only starts (and stops) at a CPI boundary, so the host sees
    // whole CPIs, each preceded by its context packet.
    wire run_now   = cpi_start ? ctrl_enable : running;
    // A pulse that starts before the previous pulse's tlast: close the open
    // packet first (as the frame's final packet), then take the sample.
    wire need_close = s_axis_tvalid && running && in_frame && s_axis_tuser[0]
                      && (wr_cnt != 0);
    wire bank_free = !bank_full[wr_bank];

    assign s_axis_tready = !need_close && (!run_now || bank_free);

    wire acc   = s_axis_tvalid && s_axis_tready;
    wire store = acc && run_now;
    wire first_pkt_now = (wr_cnt == 0) ? sof : pkt_first;
    wire pkt_end  = store && (s_axis_tlast || (wr_cnt + 1'b1 >= spp));
    wire commit   = pkt_end || need_close;
    wire frame_err_now = acc && in_frame && s_axis_tuser[0];

    reg  [1:0] sfi_now;
    always @* begin
        if (need_close)
            sfi_now = pkt_first ? 2'd0 : 2'd3;
        else if (first_pkt_now)
            sfi_now = s_axis_tlast ? 2'd0 : 2'd1;
        else
            sfi_now = s_axis_tlast ? 2'd3 : 2'd2;
    end

    // Reader-side handshake signals used by the writer.
    wire        data_done;     // reader finished the packet in bank rd_bank
    reg         rd_bank;

    always @(posedge clk) begin
        if (rst) begin
            wr_cnt       <= 0;
            wr_bank      <= 1'b0;
            in_frame     <= 1'b0;
            frame_cpi    <= 1'b0;
            pkt_first    <= 1'b0;
            running      <= 1'b0;
            loss_pending <= 1'b0;
            cpi_sid      <= 32'd0;
            bank_full    <= 2'b00;
        end else begin
            if (acc) begin
                in_frame <= !s_axis_tlast;
                if (sof) frame_cpi <= s_axis_tuser[1];
                if (cpi_start) running <= ctrl_enable;
                if (cpi_start) cpi_sid <= stream_id;
            end

            if (store && wr_cnt == 0) begin
                pkt_first          <= sof;
                d_sid[wr_bank]     <= cpi_start ? stream_id : cpi_sid;
                d_sec[wr_bank]     <= s_ts_sec;
                d_psec[wr_bank]    <= s_ts_psec;
                d_cpi[wr_bank]     <= sof ? s_axis_tuser[1] : frame_cpi;
                d_ctx[wr_bank]     <= cpi_start;
                if (cpi_start) begin
                    d_rf[wr_bank]  <= rf_freq;
                    d_sr[wr_bank]  <= srate;
                    d_pt[wr_bank]  <= pointing;
                end
            end

            if (commit) begin
                d_n[wr_bank]    <= need_close ? wr_cnt : wr_cnt + 1'b1;
                d_sfi[wr_bank]  <= sfi_now;
                d_loss[wr_bank] <= loss_pending || sample_drop || need_close
                                   || frame_err_now;
                wr_cnt          <= 0;
                wr_bank         <= !wr_bank;
            end else if (store) begin
                wr_cnt <= wr_cnt + 1'b1;
            end

            // Drops mark the next packet to close (upstream losses lie
            // somewhere before the samples still queued); a pulse that began
            // without the previous tlast marks the packets on both sides.
            if (commit)
                loss_pending <= 1'b0;
            else if (run_now && (sample_drop || frame_err_now))
                loss_pending <= 1'b1;

            // Bank ownership: writer sets, reader clears (different banks).
            if (commit)    bank_full[wr_bank] <= 1'b1;
            if (data_done) bank_full[rd_bank] <= 1'b0;
        end
    end

    // Payload RAM: two banks of 2^AW words, simple dual port, read-first.
    reg  [31:0] mem [0:(2 << AW) - 1];
    reg  [31:0] ram_q;
    wire [AW:0] rd_addr;
    always @(posedge clk) begin
        if (store)
            mem[{wr_bank, wr_cnt[AW-1:0]}] <= s_axis_tdata;
        ram_q <= mem[rd_addr];
    end

    // ------------------------------------------------------------------
    // Reader: descriptor + bank -> packet words
    // ------------------------------------------------------------------
    localparam [2:0] S_IDLE = 3'd0, S_CTX = 3'd1, S_HDR = 3'd2,
                     S_PAY  = 3'd3, S_TRL = 3'd4;
    localparam [15:0] CTX_WORDS = 16'd12;
    localparam [3:0]  CTX_LAST  = 4'd11;   // word index of the pointing word

    reg  [2:0]  st;
    reg  [3:0]  widx;           // word index within context / header
    reg  [AW:0] pidx;           // payload sample index
    reg  [3:0]  data_count;     // VRT packet count, data packet stream
    reg  [3:0]  ctx_count;      // VRT packet count, context packet stream
    reg         ctx_sent;       // a context packet went out since reset
    reg  [63:0] last_rf, last_sr;
    reg  [31:0] last_pt;

    wire adv = m_axis_tvalid && m_axis_tready;
    assign m_axis_tvalid = (st != S_IDLE);
    assign m_axis_tlast  = (st == S_TRL) || (st == S_CTX && widx == CTX_LAST);

    // The descriptor of the bank being sent.
    wire [AW:0] n_cur   = d_n[rd_bank];
    wire [31:0] cur_sid  = d_sid[rd_bank];
    wire [31:0] cur_sec  = d_sec[rd_bank];
    wire [39:0] cur_psec = d_psec[rd_bank];
    wire [63:0] cur_rf   = d_rf[rd_bank];
    wire [63:0] cur_sr   = d_sr[rd_bank];
    wire [31:0] cur_pt   = d_pt[rd_bank];
    wire        ctx_last = (st == S_CTX) && (widx == CTX_LAST) && adv;
    assign data_done = (st == S_TRL) && adv;

    wire [AW:0] pidx_nxt = (st != S_PAY) ? {(AW+1){1'b0}} :
                           adv ? pidx + 1'b1 : pidx;
    assign rd_addr = {rd_bank, pidx_nxt[AW-1:0]};

    // Context Field Change Indicator (CIF0 bit 31): first context packet,
    // or any field differs from the previous context packet.
    wire ctx_changed = !ctx_sent || (d_rf[rd_bank] != last_rf) ||
                       (d_sr[rd_bank] != last_sr) || (d_pt[rd_bank] != last_pt);

    wire [15:0] data_size = {{(15-AW){1'b0}}, n_cur} + 16'd6;
    // Header word: type, C=0, bit26 (T for data, reserved 0 for context),
    // bit25 Nd0=1, bit24 (S=0 data, TSM=0 context), TSI=1, TSF=2.
    wire [31:0] hdr_data = {4'h1, 1'b0, 1'b1, 1'b1, 1'b0, 2'b01, 2'b10,
                            data_count, data_size};
    wire [31:0] hdr_ctx  = {4'h4, 1'b0, 1'b0, 1'b1, 1'b0, 2'b01, 2'b10,
                            ctx_count, CTX_WORDS};
    // Trailer: enables 30 (valid data), 24 (sample loss), 23-22 (sample
    // frame), 20 (user bit); indicators 18, 12, 11-10, 8. E = 0, count 0.
    wire [31:0] trailer  = 32'h41D4_0000
                           | ({31'd0, d_loss[rd_bank]} << 12)
                           | ({30'd0, d_sfi[rd_bank]}  << 10)
                           | ({31'd0, d_cpi[rd_bank]}  << 8);
    wire [31:0] cif0     = 32'h0820_0002 | ({31'd0, ctx_changed} << 31);

    always @* begin
        case (st)
        S_CTX: case (widx)
            4'd0:    m_axis_tdata = hdr_ctx;
            4'd1:    m_axis_tdata = cur_sid;
            4'd2:    m_axis_tdata = cur_sec;
            4'd3:    m_axis_tdata = {24'd0, cur_psec[39:32]};
            4'd4:    m_axis_tdata = cur_psec[31:0];
            4'd5:    m_axis_tdata = cif0;
            4'd6:    m_axis_tdata = 32'h2000_0000;   // CIF1: 3-D pointing
            4'd7:    m_axis_tdata = cur_rf[63:32];
            4'd8:    m_axis_tdata = cur_rf[31:0];
            4'd9:    m_axis_tdata = cur_sr[63:32];
            4'd10:   m_axis_tdata = cur_sr[31:0];
            default: m_axis_tdata = cur_pt;
            endcase
        S_HDR: case (widx)
            4'd0:    m_axis_tdata = hdr_data;
            4'd1:    m_axis_tdata = cur_sid;
            4'd2:    m_axis_tdata = cur_sec;
            4'd3:    m_axis_tdata = {24'd0, cur_psec[39:32]};
            default: m_axis_tdata = cur_psec[31:0];
            endcase
        S_PAY:   m_axis_tdata = ram_q;
        S_TRL:   m_axis_tdata = trailer;
        default: m_axis_tdata = 32'd0;
        endcase
    end

    always @(posedge clk) begin
        if (rst) begin
            st         <= S_IDLE;
            widx       <= 4'd0;
            pidx       <= 0;
            rd_bank    <= 1'b0;
            data_count <= 4'd0;
            ctx_count  <= 4'd0;
            ctx_sent   <= 1'b0;
            last_rf    <= 64'd0;
            last_sr    <= 64'd0;
            last_pt    <= 32'd0;
        end else begin
            pidx <= pidx_nxt;
            case (st)
            S_IDLE: if (bank_full[rd_bank]) begin
                st   <= d_ctx[rd_bank] ? S_CTX : S_HDR;
                widx <= 4'd0;
            end
            S_CTX: if (adv) begin
                if (widx == CTX_LAST) begin
                    st        <= S_HDR;
                    widx      <= 4'd0;
                    ctx_count <= ctx_count + 1'b1;
                    ctx_sent  <= 1'b1;
                    last_rf   <= d_rf[rd_bank];
                    last_sr   <= d_sr[rd_bank];
                    last_pt   <= d_pt[rd_bank];
                end else begin
                    widx <= widx + 1'b1;
                end
            end
            S_HDR: if (adv) begin
                if (widx == 4'd4) st <= S_PAY;
                widx <= widx + 1'b1;
            end
            S_PAY: if (adv && pidx + 1'b1 == n_cur)
                st <= S_TRL;
            S_TRL: if (adv) begin
                st         <= S_IDLE;
                rd_bank    <= !rd_bank;
                data_count <= data_count + 1'b1;
            end
            default: st <= S_IDLE;
            endcase
        end
    end

    // ------------------------------------------------------------------
    // Control / status registers
    // ------------------------------------------------------------------
    wire clear_counters = reg_wr && reg_waddr == 8'h00 && reg_wdata[1];

    always @(posedge clk) begin
        if (rst) begin
            ctrl_enable <= 1'b0;
            stream_id   <= 32'd0;
            spp_reg     <= SPP_RESET;
            rf_freq     <= 64'd0;
            srate       <= 64'd0;
            pointing    <= 32'd0;
        end else if (reg_wr) begin
            case (reg_waddr)
            8'h00: ctrl_enable     <= reg_wdata[0];
            8'h08: stream_id       <= reg_wdata;
            8'h0C: spp_reg         <= reg_wdata[15:0];
            8'h10: rf_freq[63:32]  <= reg_wdata;
            8'h14: rf_freq[31:0]   <= reg_wdata;
            8'h18: srate[63:32]    <= reg_wdata;
            8'h1C: srate[31:0]     <= reg_wdata;
            8'h20: pointing        <= reg_wdata;
            default: ;
            endcase
        end
    end

    always @(posedge clk) begin
        if (rst || clear_counters) begin
            cnt_data_pkts  <= 32'd0;
            cnt_ctx_pkts   <= 32'd0;
            cnt_dropped    <= 32'd0;
            cnt_frames     <= 32'd0;
            cnt_frame_errs <= 32'd0;
        end else begin
            if (data_done)     cnt_data_pkts  <= cnt_data_pkts + 1'b1;
            if (ctx_last)      cnt_ctx_pkts   <= cnt_ctx_pkts + 1'b1;
            if (sample_drop)   cnt_dropped    <= cnt_dropped + 1'b1;
            if (commit && (need_close || s_axis_tlast))
                               cnt_frames     <= cnt_frames + 1'b1;
            if (frame_err_now) cnt_frame_errs <= cnt_frame_errs + 1'b1;
        end
    end

    always @* begin
        case (reg_raddr)
        8'h00:   reg_rdata = {31'd0, ctrl_enable};
        8'h04:   reg_rdata = {26'd0, bank_full, 1'b0, (st != S_IDLE),
                              loss_pending, running};
        8'h08:   reg_rdata = stream_id;
        8'h0C:   reg_rdata = {16'd0, spp_reg};
        8'h10:   reg_rdata = rf_freq[63:32];
        8'h14:   reg_rdata = rf_freq[31:0];
        8'h18:   reg_rdata = srate[63:32];
        8'h1C:   reg_rdata = srate[31:0];
        8'h20:   reg_rdata = pointing;
        8'h40:   reg_rdata = cnt_data_pkts;
        8'h44:   reg_rdata = cnt_ctx_pkts;
        8'h48:   reg_rdata = cnt_dropped;
        8'h4C:   reg_rdata = cnt_frames;
        8'h50:   reg_rdata = cnt_frame_errs;
        8'h58:   reg_rdata = 32'h5652_5401;
        8'h5C:   reg_rdata = {{(31-AW){1'b0}}, MAX_SPP};
        default: reg_rdata = 32'd0;
        endcase
    end

endmodule
